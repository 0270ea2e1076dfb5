// The barcode decoder, loaded only when someone scans (a second bundle,
// scan.js, so the portal's first load stays small): ZXing's port to
// JavaScript (@zxing/library, Apache-2.0) for GS1 DataMatrix and QR codes,
// run on pixels the page took from the camera or from a photo. Browsers
// with the BarcodeDetector API use that instead (see app.js).
// The two readers are imported on their own (not the package's index, which
// pulls in every format and the writers): a third of the size.
import BinaryBitmap from "@zxing/library/esm/core/BinaryBitmap.js";
import DecodeHintType from "@zxing/library/esm/core/DecodeHintType.js";
import HybridBinarizer from "@zxing/library/esm/core/common/HybridBinarizer.js";
import RGBLuminanceSource from "@zxing/library/esm/core/RGBLuminanceSource.js";
import DataMatrixReader from "@zxing/library/esm/core/datamatrix/DataMatrixReader.js";
import QRCodeReader from "@zxing/library/esm/core/qrcode/QRCodeReader.js";

const hints = new Map([[DecodeHintType.TRY_HARDER, true]]);
const readers = [
  ["data_matrix", new DataMatrixReader()],
  ["qr_code", new QRCodeReader()],
];

/** Decodes an ImageData ({data RGBA, width, height}); the text, or null when no code is found. */
export function decodeImageData(img) {
  const { data, width, height } = img;
  const lum = new Uint8ClampedArray(width * height);
  for (let i = 0, j = 0; j < lum.length; i += 4, j++) lum[j] = (data[i] * 306 + data[i + 1] * 601 + data[i + 2] * 117) >> 10;
  const bitmap = new BinaryBitmap(new HybridBinarizer(new RGBLuminanceSource(lum, width, height)));
  for (const [format, reader] of readers) {
    try {
      return { text: reader.decode(bitmap, hints).getText(), format };
    } catch (e) {
      // Not found, or a damaged code (checksum, format): try the next reader.
      // (zxing's exceptions name their kind; class names do not survive minifying.)
      if (!["NotFoundException", "ChecksumException", "FormatException"].includes(e?.getKind?.())) throw e;
    } finally {
      reader.reset();
    }
  }
  return null;
}
