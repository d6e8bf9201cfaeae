package io.mtpf.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;

/**
 * Jazzer fuzz test of the importer's ONNX reader and the BERT import on top of it (what `mtpf models pull` runs on a
 * downloaded model.onnx): any bytes import or raise a ModelImportException naming the source. Seeds: small BERT
 * graphs in the layout of torch.onnx's (SyntheticBertOnnx), in src/test/resources/io/mtpf/models/OnnxGraphReaderFuzzTestInputs.
 */
class OnnxGraphReaderFuzzTest {
  @FuzzTest(maxDuration = "30s")
  void onnxImport(byte[] data) {
    try {
      OnnxGraph graph = OnnxGraphReader.read(new ByteArrayInputStream(data), "fuzz.onnx");
      OnnxModelImporter.importBert(graph, new OnnxModelImporter.Expected(2, 8, 2));
    } catch (ModelImportException e) {
      assertTrue(e.getMessage() != null && e.getMessage().contains("fuzz.onnx"), "the error names the source: " + e.getMessage());
    }
  }
}
