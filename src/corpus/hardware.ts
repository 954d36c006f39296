/**
 * The hardware table: the parts synthetic questions are grounded in (the offline generator's and
 * the synthetic vault's), with the numbers of the prompts' hardware reference (prompts/hardware.md)
 * and of the real vault (a Jetson AGX Orin has 32 GB, as the vault's questions say), and the names
 * by which the checks recognise each machine class in a scenario. Each profile states its numbers
 * in the units natural to its class, so a tinyml question talks KB and ms, a cloud one GB and s.
 */
import type { Track } from './taxonomy.js';

export type HwClass = 'dc' | 'edge' | 'mobile' | 'mcu';

export interface HwProfile {
  name: string;
  /** A short name for titles. */
  short: string;
  cls: HwClass;
  /** Memory capacity and its unit ("GB" or "KB"). */
  mem: number;
  memUnit: 'GB' | 'KB';
  /** Memory bandwidth and its unit. */
  bw: number;
  bwUnit: 'GB/s' | 'MB/s';
  /** Peak compute and its unit. */
  peak: number;
  peakUnit: 'TFLOP/s' | 'TOPS' | 'MMAC/s';
  /** Typical board or device power, W. */
  watts: number;
  /** The link between devices (or to the host / network). */
  link: string;
  linkBw: number;
  linkUnit: 'GB/s' | 'MB/s' | 'KB/s';
}

export const HARDWARE: Record<HwClass, readonly HwProfile[]> = {
  dc: [
    { name: 'H100 SXM', short: 'H100', cls: 'dc', mem: 80, memUnit: 'GB', bw: 3350, bwUnit: 'GB/s', peak: 989, peakUnit: 'TFLOP/s', watts: 700, link: 'NVLink', linkBw: 450, linkUnit: 'GB/s' },
    { name: 'A100 80GB', short: 'A100', cls: 'dc', mem: 80, memUnit: 'GB', bw: 2000, bwUnit: 'GB/s', peak: 312, peakUnit: 'TFLOP/s', watts: 400, link: 'NVLink', linkBw: 300, linkUnit: 'GB/s' },
    { name: 'MI300X', short: 'MI300X', cls: 'dc', mem: 192, memUnit: 'GB', bw: 5300, bwUnit: 'GB/s', peak: 1307, peakUnit: 'TFLOP/s', watts: 750, link: 'Infinity Fabric', linkBw: 64, linkUnit: 'GB/s' },
  ],
  edge: [
    { name: 'Jetson AGX Orin', short: 'Jetson Orin', cls: 'edge', mem: 32, memUnit: 'GB', bw: 204.8, bwUnit: 'GB/s', peak: 275, peakUnit: 'TOPS', watts: 40, link: 'PCIe Gen4 x4', linkBw: 8, linkUnit: 'GB/s' },
    { name: 'Hailo-8 module', short: 'Hailo-8', cls: 'edge', mem: 8, memUnit: 'GB', bw: 25.6, bwUnit: 'GB/s', peak: 26, peakUnit: 'TOPS', watts: 2.5, link: 'PCIe Gen3 x2', linkBw: 2, linkUnit: 'GB/s' },
  ],
  mobile: [
    { name: 'A17 Pro', short: 'A17 Pro', cls: 'mobile', mem: 8, memUnit: 'GB', bw: 51.2, bwUnit: 'GB/s', peak: 35, peakUnit: 'TOPS', watts: 5, link: 'Wi-Fi uplink', linkBw: 12.5, linkUnit: 'MB/s' },
    { name: 'Snapdragon 8 Gen 3', short: 'Snapdragon', cls: 'mobile', mem: 12, memUnit: 'GB', bw: 76.8, bwUnit: 'GB/s', peak: 45, peakUnit: 'TOPS', watts: 6, link: '5G uplink', linkBw: 6.25, linkUnit: 'MB/s' },
  ],
  mcu: [
    { name: 'Cortex-M4 MCU at 120 MHz', short: 'Cortex-M4', cls: 'mcu', mem: 256, memUnit: 'KB', bw: 480, bwUnit: 'MB/s', peak: 240, peakUnit: 'MMAC/s', watts: 0.03, link: 'BLE', linkBw: 125, linkUnit: 'KB/s' },
    { name: 'Cortex-M7 MCU at 480 MHz', short: 'Cortex-M7', cls: 'mcu', mem: 1024, memUnit: 'KB', bw: 1920, bwUnit: 'MB/s', peak: 960, peakUnit: 'MMAC/s', watts: 0.12, link: 'SPI', linkBw: 2500, linkUnit: 'KB/s' },
    { name: 'nRF52840 (Cortex-M4F at 64 MHz)', short: 'nRF52840', cls: 'mcu', mem: 256, memUnit: 'KB', bw: 256, bwUnit: 'MB/s', peak: 128, peakUnit: 'MMAC/s', watts: 0.015, link: 'BLE', linkBw: 125, linkUnit: 'KB/s' },
  ],
};

/** What the class is called in a finding ("set on datacenter hardware"). */
export const HW_CLASS_LABEL: Record<HwClass, string> = { dc: 'datacenter', edge: 'edge', mobile: 'mobile', mcu: 'mcu' };

/**
 * The names that place a scenario on a machine class: every part of the table above and the
 * common others of its class. Each profile's name matches its class's pattern (a test holds it).
 */
export const HW_CLASS_MENTION: Record<HwClass, RegExp> = {
  dc: /\b(?:H100|H200|B200|GB200|A100|MI300X?|TPU ?v\d\w*|Gaudi ?\d?|Trainium|DGX|NVLink|InfiniBand|HGX)\b/i,
  edge: /\b(?:Jetson|Orin|Xavier|Hailo|Coral|Raspberry Pi|Edge ?TPU|Myriad)\b/i,
  mobile: /\b(?:Snapdragon|iPhone|Pixel \d|Galaxy S\d+|Neural Engine|A1\d (?:Pro|Bionic)|Tensor G\d|Dimensity|Exynos|smartphones?|phones?)\b/i,
  mcu: /\b(?:Cortex-M\d+\w*|nRF\d+\w*|ESP32\w*|STM32\w*|RP2040|Arduino|microcontrollers?|MCUs?)\b/i,
};

/** The machine class of a track (global questions pick one with `pick`). */
export function hwClassFor(track: Track, pick: (xs: readonly HwClass[]) => HwClass): HwClass {
  switch (track) {
    case 'cloud':
      return 'dc';
    case 'edge':
      return 'edge';
    case 'mobile':
      return 'mobile';
    case 'tinyml':
      return 'mcu';
    default:
      return pick(['dc', 'edge', 'mobile', 'mcu']);
  }
}
