package io.mtpf.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.MtpfException;
import io.mtpf.formats.PeftConfig;
import io.mtpf.formats.Safetensors.TensorInfo;
import io.mtpf.formats.Safetensors;
import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A LoRA adapter folder in PEFT format (adapter_config.json + adapter_model.safetensors), optionally with a token
 * classification head beside it (head_NAME.safetensors + head_NAME.json, as `mtpf adapt-ner --out` and the
 * pre-finetuning run write them) and its labels (in head_NAME.json, else labels.json).
 *
 * <p>{@link #load} reads and checks the files (config, tensor shapes against the config's rank, truncation); a
 * backbone loads the weights the first time the adapter is used with it ({@link Backbone#attach} does it
 * eagerly), keyed by this adapter, so one adapter can serve several backbones and many adapters one backbone.
 * {@link #close} unloads it from every backbone holding it. Thread-safe.
 */
public final class Adapter implements AutoCloseable {
  private static final AtomicLong SERIAL = new AtomicLong();
  private static final String PREFIX = "base_model.model.";

  private final String name;
  private final String nativeName;
  private final File dir;
  private final int rank;
  private final double alpha;
  private final List<String> targetModules;
  private final String baseModel;
  private final String headName;
  private final int headInFeatures;
  private final int headClasses;
  private final List<String> labels;
  private final Set<Backbone> backbones = new LinkedHashSet<>();
  private boolean closed;

  private Adapter(String name, File dir, int rank, double alpha, List<String> targetModules, String baseModel,
      String headName, int headInFeatures, int headClasses, List<String> labels) {
    this.name = name;
    // Each Adapter object has its own native key, so two folders loaded under one name never replace each other.
    this.nativeName = name + "#" + SERIAL.incrementAndGet();
    this.dir = dir;
    this.rank = rank;
    this.alpha = alpha;
    this.targetModules = targetModules;
    this.baseModel = baseModel;
    this.headName = headName;
    this.headInFeatures = headInFeatures;
    this.headClasses = headClasses;
    this.labels = labels;
  }

  /** Loads the folder; the name is the folder's name; the head is the folder's only head_*.json, if any. */
  public static Adapter load(Path dir) {
    return load(dir == null ? null : dir.toFile(), null, null);
  }

  public static Adapter load(File dir) {
    return load(dir, null, null);
  }

  public static Adapter load(String dir) {
    return load(dir == null ? null : new File(dir), null, null);
  }

  public static Adapter load(Path dir, String name, String headName) {
    return load(dir == null ? null : dir.toFile(), name, headName);
  }

  /**
   * @param name the adapter's name (null: the folder's name)
   * @param headName which head_NAME to load (null: the only one in the folder, or none; "": no head)
   */
  public static Adapter load(File dir, String name, String headName) {
    if (dir == null) throw new AdapterException("Adapter.load: adapter folder is null");
    if (!dir.isDirectory()) throw new AdapterException(dir + ": adapter folder not found");
    ObjectMapper json = new ObjectMapper();
    PeftConfig config;
    try {
      config = PeftConfig.read(dir.toPath());
    } catch (MtpfException e) {
      throw new AdapterException(e.getMessage());
    }
    int rank = config.r();
    List<String> targets =
        config.targetModulesRegex().isEmpty() ? config.targetModules() : List.of(config.targetModulesRegex());
    checkWeights(new File(dir, "adapter_model.safetensors"), rank);

    String head = headName == null ? findHead(dir) : headName;
    int inFeatures = 0, classes = 0;
    List<String> labels = Collections.emptyList();
    if (!head.isEmpty()) {
      File headJson = new File(dir, "head_" + head + ".json");
      JsonNode meta = readJson(headJson, json);
      inFeatures = meta.path("in_features").asInt(0);
      classes = meta.path("num_labels").asInt(0);
      if (inFeatures <= 0 || classes <= 0)
        throw new AdapterException(headJson + ": in_features and num_labels must be positive integers");
      File headFile = new File(dir, "head_" + head + ".safetensors");
      Map<String, TensorInfo> h = header(headFile);
      requireShape(headFile, h, "weight", new long[] {classes, inFeatures});
      requireShape(headFile, h, "bias", new long[] {classes});
      labels = readLabels(dir, meta.path("labels"), headJson, classes, json);
    }
    String adapterName = name == null || name.isEmpty() ? dir.getName() : name;
    return new Adapter(adapterName, dir, rank, config.loraAlpha(), targets, config.baseModelNameOrPath(), head,
        inFeatures, classes, labels);
  }

  /** Every lora_A has a lora_B and both have the config's rank (PeftConfig refuses per-module ranks). */
  private static void checkWeights(File file, int rank) {
    Map<String, TensorInfo[]> pairs = new TreeMap<>();
    for (Map.Entry<String, TensorInfo> e : header(file).entrySet()) {
      String key = e.getKey();
      int a = key.indexOf(".lora_A."), b = key.indexOf(".lora_B.");
      if (a < 0 && b < 0) continue;
      String module = key.substring(key.startsWith(PREFIX) ? PREFIX.length() : 0, Math.max(a, b));
      TensorInfo info = e.getValue();
      if (info.shape().length != 2)
        throw new AdapterException(file + ": tensor '" + key + "' has shape " + info.shapeString() + ", LoRA matrices are 2-D");
      pairs.computeIfAbsent(module, k -> new TensorInfo[2])[a >= 0 ? 0 : 1] = info;
    }
    if (pairs.isEmpty()) throw new AdapterException(file + ": no lora_A / lora_B tensors");
    for (Map.Entry<String, TensorInfo[]> e : pairs.entrySet()) {
      TensorInfo a = e.getValue()[0], b = e.getValue()[1];
      if (a == null || b == null)
        throw new AdapterException(file + ": module " + e.getKey() + " has lora_" + (a == null ? "B" : "A")
            + " but no lora_" + (a == null ? "A" : "B"));
      // PEFT: lora_A [r, in_features], lora_B [out_features, r].
      if (a.shape()[0] != b.shape()[1])
        throw new AdapterException(file + ": module " + e.getKey() + " has lora_A " + a.shapeString() + " and lora_B "
            + b.shapeString() + ", whose ranks differ");
      if (a.shape()[0] != rank)
        throw new AdapterException(file + ": module " + e.getKey() + " has rank " + a.shape()[0] + " (lora_A "
            + a.shapeString() + ") but adapter_config.json says r = " + rank);
    }
  }

  /** The file's safetensors header (io.mtpf.formats checks it), its errors as this adapter's. */
  private static Map<String, TensorInfo> header(File file) {
    try {
      return Safetensors.readHeader(file.toPath());
    } catch (MtpfException e) {
      throw new AdapterException(e.getMessage(), e);
    }
  }

  private static void requireShape(File file, Map<String, TensorInfo> h, String key, long[] shape) {
    TensorInfo t = h.get(key);
    if (t == null) throw new AdapterException(file + ": tensor '" + key + "' is missing");
    if (!java.util.Arrays.equals(t.shape(), shape))
      throw new AdapterException(file + ": tensor '" + key + "' has shape " + t.shapeString() + " but its json says "
          + java.util.Arrays.toString(shape));
  }

  private static String findHead(File dir) {
    String[] names = dir.list();
    List<String> heads = new ArrayList<>();
    if (names != null)
      for (String n : names)
        if (n.startsWith("head_") && n.endsWith(".json")) heads.add(n.substring(5, n.length() - 5));
    if (heads.size() > 1) {
      Collections.sort(heads);
      throw new AdapterException(dir + ": several heads " + heads + "; name the one to load");
    }
    return heads.isEmpty() ? "" : heads.get(0);
  }

  /** The head's labels from its json, else from labels.json ({"labels": [...]} or a bare array), else none. */
  private static List<String> readLabels(File dir, JsonNode fromHead, File headJson, int classes, ObjectMapper json) {
    List<String> labels = new ArrayList<>();
    File source = headJson;
    JsonNode list = fromHead;
    if (!list.isArray() || list.size() == 0) {
      source = new File(dir, "labels.json");
      if (!source.isFile()) return Collections.emptyList();
      JsonNode root = readJson(source, json);
      list = root.isArray() ? root : root.path("labels");
    }
    if (!list.isArray()) throw new AdapterException(source + ": expected {\"labels\": [...]} or a JSON array of labels");
    list.forEach(n -> labels.add(n.asText()));
    if (labels.size() != classes)
      throw new AdapterException(source + ": " + labels.size() + " labels but the head has " + classes + " outputs");
    return Collections.unmodifiableList(labels);
  }

  private static JsonNode readJson(File file, ObjectMapper json) {
    if (!file.isFile()) throw new AdapterException(file + ": file not found");
    try {
      JsonNode n = json.readTree(file);
      if (n == null) throw new AdapterException(file + ": empty file");
      return n;
    } catch (IOException e) {
      throw new AdapterException(file + ": unreadable JSON (" + e.getMessage() + ")", e);
    }
  }

  public String name() {
    return name;
  }

  public File dir() {
    return dir;
  }

  public int rank() {
    return rank;
  }

  public double alpha() {
    return alpha;
  }

  public List<String> targetModules() {
    return targetModules;
  }

  /** adapter_config.json's base_model_name_or_path ("" when absent): where it was trained, for messages. */
  public String baseModel() {
    return baseModel;
  }

  /** The head's name ("" without a head). */
  public String headName() {
    return headName;
  }

  public boolean hasHead() {
    return !headName.isEmpty();
  }

  public int headClasses() {
    return headClasses;
  }

  int headInFeatures() {
    return headInFeatures;
  }

  /** The head's labels in id order (empty when the folder names none). */
  public List<String> labels() {
    return labels;
  }

  String nativeName() {
    return nativeName;
  }

  String describe() {
    return "adapter '" + name + "' (" + dir + ")";
  }

  /** Records that a backbone holds this adapter; false when the adapter is closed. */
  synchronized boolean attachedTo(Backbone backbone) {
    if (closed) return false;
    backbones.add(backbone);
    return true;
  }

  synchronized void detachedFrom(Backbone backbone) {
    backbones.remove(backbone);
  }

  synchronized boolean isClosed() {
    return closed;
  }

  /** Unloads the adapter from every backbone holding it; later uses fail. */
  @Override
  public void close() {
    List<Backbone> holders;
    synchronized (this) {
      if (closed) return;
      closed = true;
      holders = new ArrayList<>(backbones);
    }
    // Outside our monitor: Backbone.detach takes the backbone's lock, then calls back into detachedFrom.
    for (Backbone b : holders) b.detach(this);
  }

  @Override
  public String toString() {
    return "Adapter{" + name + ", r=" + rank + ", alpha=" + alpha + ", head=" + (hasHead() ? headName + "/" + headClasses : "none")
        + ", dir=" + dir + "}";
  }
}
