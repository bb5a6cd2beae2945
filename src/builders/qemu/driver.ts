/**
 * What the qemu builder's steps need from QEMU, as a small interface (Packer's qemu
 * `Driver`): the real one is the `src/qemu` driver; unit tests give the steps a fake and
 * run them without a VM.
 */
import { type AccelChoice, chooseAccelerator } from '../../qemu/accel.js';
import { type CdIsoOptions, makeCdIso } from '../../qemu/cd.js';
import {
  convertImage,
  createImage,
  createOverlay,
  type ImageInfo,
  imageInfo,
  rebaseImage,
  resizeImage,
} from '../../qemu/img.js';
import { type StartVmOptions, startVm, type Vm } from '../../qemu/launch.js';

export interface QemuDriver {
  /** Resolves the template's `accelerator` (`auto` probes the host once). */
  chooseAccelerator(setting: string, qemuBinary: string): Promise<AccelChoice>;
  /** Starts QEMU and connects to QMP; leaves no process behind when it fails. */
  startVm(opts: StartVmOptions): Promise<Vm>;
  imageInfo(file: string, signal: AbortSignal): Promise<ImageInfo>;
  /** A qcow2 overlay on `base`; `sizeBytes` grows it. */
  createOverlay(
    base: string,
    baseFormat: string,
    out: string,
    sizeBytes: number | undefined,
    signal: AbortSignal,
  ): Promise<void>;
  /** An empty disk of `sizeBytes` in `format` (an installer's target). */
  createImage(file: string, format: string, sizeBytes: number, signal: AbortSignal): Promise<void>;
  /** An ISO holding cd_files/cd_content (xorriso). */
  makeCdIso(opts: CdIsoOptions): Promise<void>;
  /** A full copy of `src` in `format`. */
  convertImage(
    src: string,
    out: string,
    format: string,
    signal: AbortSignal,
    srcFormat: string,
  ): Promise<void>;
  resizeImage(file: string, format: string, sizeBytes: number, signal: AbortSignal): Promise<void>;
  /** Points an overlay at another backing file, its contents kept when `safe`. */
  rebaseImage(
    file: string,
    backing: string,
    backingFormat: string,
    safe: boolean,
    signal: AbortSignal,
  ): Promise<void>;
}

/** The driver builds use: real QEMU, qemu-img and xorriso. */
export const qemuDriver: QemuDriver = {
  chooseAccelerator,
  startVm,
  imageInfo,
  createOverlay,
  createImage,
  makeCdIso,
  convertImage,
  resizeImage,
  rebaseImage,
};
