package io.mtpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.nativebind.MtpfNative;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TrainerConfigTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The mirror holds: the same sections, keys, JSON types and defaults as the native schema. */
  @Test
  void mirrorsTheNativeSchemaKeyForKey() throws Exception {
    JsonNode java = JSON.readTree(new TrainerConfig().toJson());
    JsonNode nativeDefaults = JSON.readTree(NativeCore.call("trainer config", MtpfNative::trainer_config_defaults));
    List<String> javaKeys = paths(java, ""), nativeKeys = paths(nativeDefaults, "");
    assertEquals(nativeKeys, javaKeys, "the Java TrainerConfig's fields against the native schema's");
    assertTrue(javaKeys.contains("optimizer.total_steps") && javaKeys.contains("adapt.load_head"), javaKeys.toString());
    assertEquals(nativeDefaults, java, "defaults and JSON types (an integer field must stay an integer)");
  }

  @Test
  void nerAdaptSetsTheLoraOnEveryLayerAndTheHead() throws Exception {
    TrainerConfig c = TrainerConfig.nerAdapt(9, 16, 32);
    c.adapt.init = "/adapters/ner";
    JsonNode j = JSON.readTree(c.toJson());
    assertEquals("ner-adapt", j.get("strategy").asText());
    assertEquals(9, j.at("/ner/classes").asInt());
    assertEquals(16, j.at("/lora/r").asInt());
    assertEquals(32.0, j.at("/lora/alpha").asDouble());
    assertEquals(0, j.at("/lora/last_layers").asInt());
    assertEquals("/adapters/ner", j.at("/adapt/init").asText());
  }

  /** Every leaf's dotted path, sorted. */
  private static List<String> paths(JsonNode node, String prefix) {
    List<String> out = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String path = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
      if (e.getValue().isObject()) out.addAll(paths(e.getValue(), path));
      else out.add(path);
    }
    out.sort(null);
    return out;
  }
}
