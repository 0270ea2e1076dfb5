// Barcode images for the browser tests: a GS1 DataMatrix or QR code drawn by
// ZXing's writers (@zxing/library, the library the portal's decoder comes
// from), written as a PNG (the photo a pharmacist uploads) or as a Y4M
// video (Chromium's fake camera plays it to getUserMedia).
import { createRequire } from "node:module";
import { deflateSync } from "node:zlib";

const zx = createRequire(import.meta.url)("@zxing/library");

// The DataMatrix carries the element string with GS separators as plain
// characters: @zxing/library 0.23's writer draws an empty symbol with its
// GS1_FORMAT hint (FNC1 codewords); a reader hands both forms to the page as
// the same text, GS characters between the fields.
/** A grey image {w, h, px} of the code, black on white with a quiet zone, its modules scaled to fit size×size. */
export function codeImage(text, { format = "datamatrix", size = 240, canvas = size + 80 } = {}) {
  // At its natural size (one pixel a module), scaled here by a whole factor:
  // the writers' own scaling draws some symbols empty.
  const m =
    format === "datamatrix"
      ? new zx.DataMatrixWriter().encode(text, zx.BarcodeFormat.DATA_MATRIX, 0, 0, new Map())
      : new zx.QRCodeWriter().encode(text, zx.BarcodeFormat.QR_CODE, 0, 0, new Map([[zx.EncodeHintType.MARGIN, 0]]));
  const k = Math.max(1, Math.floor(size / Math.max(m.getWidth(), m.getHeight())));
  const mw = m.getWidth() * k, mh = m.getHeight() * k;
  const w = Math.max(canvas, mw + 40), h = Math.max(canvas, mh + 40);
  const px = new Uint8Array(w * h).fill(255);
  const ox = (w - mw) >> 1, oy = (h - mh) >> 1;
  for (let y = 0; y < mh; y++) for (let x = 0; x < mw; x++) if (m.get(Math.floor(x / k), Math.floor(y / k))) px[(oy + y) * w + ox + x] = 0;
  return { w, h, px };
}

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** An 8-bit greyscale PNG of the image. */
export function png({ w, h, px }) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc((w + 1) * h);
  for (let y = 0; y < h; y++) Buffer.from(px.buffer, px.byteOffset + y * w, w).copy(raw, y * (w + 1) + 1);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

/** A Y4M video (4:2:0) of `frames` identical frames of the image: Chromium's --use-file-for-fake-video-capture. */
export function y4m({ w, h, px }, frames = 10) {
  const W = w & ~1, H = h & ~1;
  const y = Buffer.alloc(W * H);
  for (let r = 0; r < H; r++) Buffer.from(px.buffer, px.byteOffset + r * w, W).copy(y, r * W);
  const uv = Buffer.alloc((W / 2) * (H / 2), 128);
  const frame = Buffer.concat([Buffer.from("FRAME\n"), y, uv, uv]);
  return Buffer.concat([Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`), ...Array(frames).fill(frame)]);
}
