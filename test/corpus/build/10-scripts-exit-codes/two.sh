#!/bin/sh
echo script two exits 2
exit 2
