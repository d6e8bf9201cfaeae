package io.mtpf.formats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.MtpfException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** adapter_config.json as PEFT and mtpf write it, PEFT's defaults, and every refusal naming the file. */
class PeftConfigTest {
  @TempDir Path dir;

  private Path write(String json) throws IOException {
    Files.writeString(dir.resolve(PeftConfig.FILE), json);
    return dir;
  }

  @Test
  void readsWhatPeftAndMtpfWrite() throws IOException {
    PeftConfig c = PeftConfig.read(write("{\"peft_type\": \"LORA\", \"r\": 32, \"lora_alpha\": 64, \"lora_dropout\": 0.1,"
        + " \"use_rslora\": false, \"target_modules\": [\"encoder.layer.4.attention.self.query\", \"key\"],"
        + " \"bias\": \"none\", \"task_type\": \"TOKEN_CLS\", \"base_model_name_or_path\": \"bge\","
        + " \"inference_mode\": true, \"fan_in_fan_out\": false, \"modules_to_save\": [\"classifier\"],"
        + " \"layers_to_transform\": [4, 5], \"rank_pattern\": {}, \"alpha_pattern\": {}}"));
    assertEquals(32, c.r());
    assertEquals(64.0, c.loraAlpha());
    assertEquals(2.0, c.scaling());
    assertEquals(0.1, c.loraDropout());
    assertEquals(List.of("encoder.layer.4.attention.self.query", "key"), c.targetModules());
    assertEquals("", c.targetModulesRegex());
    assertEquals(List.of(4, 5), c.layersToTransform());
    assertEquals(List.of("classifier"), c.modulesToSave());
    assertEquals("bge", c.baseModelNameOrPath());
    assertEquals("TOKEN_CLS", c.taskType());
  }

  @Test
  void peftDefaultsAndARegex() throws IOException {
    PeftConfig c = PeftConfig.read(write("{\"peft_type\": \"LORA\", \"r\": 16.0, \"target_modules\": \".*query\","
        + " \"use_rslora\": true, \"layers_to_transform\": 3, \"task_type\": null}"));
    assertEquals(16, c.r());
    assertEquals(8.0, c.loraAlpha(), "PEFT's LoraConfig default");
    assertEquals(8.0 / 4.0, c.scaling(), "rsLoRA: alpha / sqrt(r)");
    assertEquals(".*query", c.targetModulesRegex());
    assertEquals(List.of(), c.targetModules());
    assertEquals(List.of(3), c.layersToTransform());
    assertEquals("", c.taskType());
  }

  static Stream<Arguments> refused() {
    String ok = "\"peft_type\": \"LORA\", \"r\": 8, \"target_modules\": [\"query\"]";
    return Stream.of(
        Arguments.of("{\"r\": 8", "malformed JSON"),
        Arguments.of("[1]", "not a JSON object"),
        Arguments.of("{\"peft_type\": \"IA3\", \"r\": 8, \"target_modules\": []}", "peft_type is \"IA3\"; mtpf reads LORA"),
        Arguments.of("{\"r\": 8, \"target_modules\": []}", "peft_type is missing"),
        Arguments.of("{\"peft_type\": \"LORA\", \"r\": 0, \"target_modules\": []}", "r must be a positive integer"),
        Arguments.of("{\"peft_type\": \"LORA\", \"r\": 2.5, \"target_modules\": []}", "r must be a positive integer"),
        Arguments.of("{\"peft_type\": \"LORA\", \"r\": 8}", "target_modules is missing"),
        Arguments.of("{" + ok + ", \"bias\": \"all\"}", "bias \"all\" is not supported"),
        Arguments.of("{" + ok + ", \"fan_in_fan_out\": true}", "fan_in_fan_out (Conv1D layers) is not supported"),
        Arguments.of("{" + ok + ", \"use_dora\": true}", "DoRA (use_dora) is not supported"),
        Arguments.of("{" + ok + ", \"rank_pattern\": {\"query\": 4}}", "rank_pattern (per-module ranks)"),
        Arguments.of("{\"peft_type\": \"LORA\", \"r\": 8, \"target_modules\": \"(\"}", "target_modules regex '(' is invalid"),
        Arguments.of("{" + ok + ", \"layers_to_transform\": [\"x\"]}", "layers_to_transform holds \"x\""),
        Arguments.of("{" + ok + ", \"lora_alpha\": \"big\"}", "lora_alpha is \"big\", not a number"));
  }

  @ParameterizedTest
  @MethodSource("refused")
  void refusesNamingTheFile(String json, String reason) throws IOException {
    MtpfException e = assertThrows(MtpfException.class, () -> PeftConfig.read(write(json)));
    assertTrue(e.getMessage().startsWith(dir.resolve(PeftConfig.FILE).toString()), e.getMessage());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }

  @Test
  void missingFolderOrFile() {
    MtpfException e = assertThrows(MtpfException.class, () -> PeftConfig.read(dir.resolve("none")));
    assertEquals(dir.resolve("none") + ": adapter folder not found", e.getMessage());
    e = assertThrows(MtpfException.class, () -> PeftConfig.read(dir));
    assertTrue(e.getMessage().startsWith(dir.resolve(PeftConfig.FILE) + ": file not found"), e.getMessage());
  }
}
