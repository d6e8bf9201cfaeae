package io.mtpf.models;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the ONNX seeds of {@link OnnxGraphReaderFuzzTest} (the other fuzz tests' seeds are plain text files kept
 * as they are): {@code java -cp ... io.mtpf.models.FuzzSeeds trainer/src/test/resources}.
 */
final class FuzzSeeds {
  private FuzzSeeds() {}

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0], "io/mtpf/models/OnnxGraphReaderFuzzTestInputs/onnxImport");
    Files.createDirectories(dir);
    SyntheticBertOnnx plain = new SyntheticBertOnnx();
    Files.write(dir.resolve("bert-2x8"), plain.build());
    SyntheticBertOnnx constants = new SyntheticBertOnnx();
    constants.weightsAsConstants = true;
    constants.floatData = true;
    Files.write(dir.resolve("bert-2x8-constants-float-data"), constants.build());
    SyntheticBertOnnx half = new SyntheticBertOnnx();
    half.fp16 = true;
    half.heads = 0;
    Files.write(dir.resolve("bert-2x8-fp16-no-heads"), half.build());
  }
}
