package io.mtpf.formats;

import java.util.Arrays;

/** A named fp32 tensor in row-major order, as it goes into model.safetensors. */
public record Fp32Tensor(String name, long[] shape, float[] data) {
  public Fp32Tensor {
    long n = 1;
    for (long d : shape) n *= d;
    if (n != data.length) {
      throw new IllegalArgumentException(name + ": " + data.length + " values for shape " + Arrays.toString(shape));
    }
  }

  public long numel() {
    return data.length;
  }

  /** The transpose of a 2-D tensor, under a new name (ONNX MatMul stores x @ W, torch Linear stores W^T). */
  public static Fp32Tensor transpose2d(String name, long[] shape, float[] data) {
    if (shape.length != 2) throw new IllegalArgumentException(name + ": cannot transpose shape " + Arrays.toString(shape));
    int rows = (int) shape[0];
    int cols = (int) shape[1];
    float[] t = new float[data.length];
    // Blocked so both sides stay in cache; a plain double loop is ~5x slower on the 30522x384 sizes.
    final int b = 64;
    for (int r0 = 0; r0 < rows; r0 += b) {
      for (int c0 = 0; c0 < cols; c0 += b) {
        int r1 = Math.min(rows, r0 + b);
        int c1 = Math.min(cols, c0 + b);
        for (int r = r0; r < r1; r++) {
          for (int c = c0; c < c1; c++) t[c * rows + r] = data[r * cols + c];
        }
      }
    }
    return new Fp32Tensor(name, new long[] {cols, rows}, t);
  }

  public String shapeString() {
    return Arrays.toString(shape);
  }
}
