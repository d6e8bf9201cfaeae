package io.mtpf.formats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.MtpfException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * adapter_config.json of a PEFT LoRA adapter, the one Java reading of it: PEFT's defaults (r 8, lora_alpha 8,
 * lora_dropout 0) and the rules of the native reader ({@code native/formats/src/peft_config.cpp}), so that Java refuses
 * exactly what the engines refuse, with the file named.
 *
 * @param targetModules target_modules as a list (names or "."-suffixes), empty when a regex is given
 * @param targetModulesRegex target_modules as a string (a full-match regex), "" when a list is given
 * @param layersToTransform empty: all layers
 * @param taskType "" for null
 */
public record PeftConfig(int r, double loraAlpha, double loraDropout, boolean useRslora, List<String> targetModules,
                         String targetModulesRegex, List<Integer> layersToTransform, List<String> modulesToSave,
                         String baseModelNameOrPath, String taskType) {
  public static final String FILE = "adapter_config.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  public PeftConfig {
    targetModules = List.copyOf(targetModules);
    layersToTransform = List.copyOf(layersToTransform);
    modulesToSave = List.copyOf(modulesToSave);
  }

  /** PEFT's scaling: alpha / r, or alpha / sqrt(r) with rsLoRA. */
  public double scaling() {
    return useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r;
  }

  /** Reads {@code dir}/adapter_config.json; a missing, malformed or unsupported file is an MtpfException naming it. */
  public static PeftConfig read(Path dir) {
    if (!Files.isDirectory(dir)) throw new MtpfException(dir + ": adapter folder not found");
    Path file = dir.resolve(FILE);
    JsonNode j;
    try {
      j = JSON.readTree(file.toFile());
    } catch (NoSuchFileException | java.io.FileNotFoundException e) {
      throw new MtpfException(file + ": file not found (a PEFT adapter folder needs " + FILE + ")");
    } catch (IOException e) {
      throw new MtpfException(file + ": malformed JSON (" + e.getMessage() + ")", e);
    }
    if (j == null || !j.isObject()) throw new MtpfException(file + ": not a JSON object");
    String peftType = text(j, "peft_type");
    if (!"LORA".equals(peftType))
      throw new MtpfException(file + ": peft_type is " + (peftType == null ? "missing" : j.get("peft_type"))
          + "; mtpf reads LORA adapters");
    JsonNode r = present(j, "r");
    if (r == null || !r.canConvertToInt() || !(r.isIntegralNumber() || integralFloat(r)) || r.asInt() <= 0)
      throw new MtpfException(file + ": r must be a positive integer");
    double alpha = number(j, "lora_alpha", 8.0, file);
    double dropout = number(j, "lora_dropout", 0.0, file);
    if (present(j, "bias") != null && !"none".equals(text(j, "bias")))
      throw new MtpfException(file + ": bias " + j.get("bias") + " is not supported (mtpf adapters train no biases)");
    if (isTrue(j, "fan_in_fan_out")) throw new MtpfException(file + ": fan_in_fan_out (Conv1D layers) is not supported");
    if (isTrue(j, "use_dora")) throw new MtpfException(file + ": DoRA (use_dora) is not supported");
    for (String key : List.of("rank_pattern", "alpha_pattern")) {
      JsonNode p = present(j, key);
      if (p != null && p.size() > 0)
        throw new MtpfException(file + ": " + key + " (per-module ranks) is not supported");
    }
    JsonNode t = present(j, "target_modules");
    if (t == null) throw new MtpfException(file + ": target_modules is missing");
    List<String> targets = new ArrayList<>();
    String regex = "";
    if (t.isTextual()) {
      regex = t.asText();
      try {
        Pattern.compile(regex);
      } catch (PatternSyntaxException e) {
        throw new MtpfException(file + ": target_modules regex '" + regex + "' is invalid (" + e.getDescription() + ")");
      }
    } else {
      targets = strings(t, "target_modules", file);
    }
    List<Integer> layers = new ArrayList<>();
    JsonNode l = present(j, "layers_to_transform");
    if (l != null) {
      for (JsonNode v : l.isArray() ? l : JSON.createArrayNode().add(l)) {
        if (!(v.isIntegralNumber() || integralFloat(v)) || !v.canConvertToInt())
          throw new MtpfException(file + ": layers_to_transform holds " + v + ", not a layer index");
        layers.add(v.asInt());
      }
    }
    JsonNode save = present(j, "modules_to_save");
    List<String> modulesToSave = save == null ? List.of() : strings(save, "modules_to_save", file);
    return new PeftConfig(r.asInt(), alpha, dropout, isTrue(j, "use_rslora"), targets, regex, layers, modulesToSave,
        textOr(j, "base_model_name_or_path", file), textOr(j, "task_type", file));
  }

  private static JsonNode present(JsonNode j, String key) {
    JsonNode v = j.get(key);
    return v == null || v.isNull() ? null : v;
  }

  private static String text(JsonNode j, String key) {
    JsonNode v = present(j, key);
    return v != null && v.isTextual() ? v.asText() : null;
  }

  private static String textOr(JsonNode j, String key, Path file) {
    JsonNode v = present(j, key);
    if (v == null) return "";
    if (!v.isTextual()) throw new MtpfException(file + ": unexpected value (" + key + " is " + v + ", not a string)");
    return v.asText();
  }

  private static boolean isTrue(JsonNode j, String key) {
    JsonNode v = present(j, key);
    return v != null && v.isBoolean() && v.asBoolean();
  }

  private static boolean integralFloat(JsonNode v) {
    return v.isFloatingPointNumber() && v.asDouble() == Math.rint(v.asDouble());
  }

  private static double number(JsonNode j, String key, double fallback, Path file) {
    JsonNode v = present(j, key);
    if (v == null) return fallback;
    if (!v.isNumber()) throw new MtpfException(file + ": unexpected value (" + key + " is " + v + ", not a number)");
    return v.asDouble();
  }

  private static List<String> strings(JsonNode v, String key, Path file) {
    if (!v.isArray()) throw new MtpfException(file + ": unexpected value (" + key + " is " + v + ", not a list)");
    List<String> out = new ArrayList<>();
    for (JsonNode s : v) {
      if (!s.isTextual()) throw new MtpfException(file + ": unexpected value (" + key + " holds " + s + ")");
      out.add(s.asText());
    }
    return out;
  }
}
