#!/bin/sh
echo script one
