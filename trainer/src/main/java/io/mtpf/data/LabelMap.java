package io.mtpf.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mtpf.MtpfException;
import io.mtpf.files.AtomicFiles;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * Label names and their ids (id = position in the list). A run keeps the map it trained with (label_map.json), and
 * the test split is read with the training split's map, so that id k means the same label everywhere.
 */
public final class LabelMap {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final List<String> names;
  private final Map<String, Integer> ids;

  private LabelMap(List<String> names) {
    this.names = List.copyOf(names);
    this.ids = new HashMap<>();
    for (int i = 0; i < this.names.size(); i++) {
      if (this.names.get(i).isEmpty()) throw new MtpfException("label map: label " + i + " is empty");
      if (ids.put(this.names.get(i), i) != null) throw new MtpfException("label map: label '" + this.names.get(i) + "' appears twice");
    }
  }

  /** The labels in this order: names.get(k) has id k. */
  public static LabelMap of(List<String> names) {
    return new LabelMap(names);
  }

  /**
   * The distinct labels in sorted order, so that the map does not depend on which example comes first: numeric order
   * when every label is an integer ("2" before "10"), else String order (by UTF-16 code unit, case-sensitive).
   */
  public static LabelMap sorted(Collection<String> labels) {
    List<String> distinct = new ArrayList<>(new LinkedHashSet<>(labels));
    boolean numeric = !distinct.isEmpty() && distinct.stream().allMatch(LabelMap::isInteger);
    Comparator<String> order = numeric
        ? Comparator.<String, BigInteger>comparing(BigInteger::new).thenComparing(Comparator.naturalOrder())
        : Comparator.naturalOrder();
    distinct.sort(order);
    return new LabelMap(distinct);
  }

  private static boolean isInteger(String s) {
    int start = s.startsWith("-") ? 1 : 0;
    if (s.length() == start) return false;
    for (int i = start; i < s.length(); i++) if (s.charAt(i) < '0' || s.charAt(i) > '9') return false;
    return true;
  }

  public int size() {
    return names.size();
  }

  public List<String> names() {
    return names;
  }

  public boolean contains(String name) {
    return ids.containsKey(name);
  }

  /** The id of a label; an unknown label is an error naming it. */
  public int id(String name) {
    Integer id = ids.get(name);
    if (id == null) throw new MtpfException("label '" + name + "' is not in the label map " + preview());
    return id;
  }

  public String name(int id) {
    if (id < 0 || id >= names.size()) throw new MtpfException("label id " + id + " is outside the label map (" + names.size() + " labels)");
    return names.get(id);
  }

  /** The first labels, for error messages. */
  public String preview() {
    int shown = Math.min(names.size(), 12);
    String head = String.join(", ", names.subList(0, shown));
    return "[" + head + (shown < names.size() ? ", ... " + (names.size() - shown) + " more" : "") + "]";
  }

  /**
   * Fails unless {@code other} has the same labels in the same order, saying what differs; {@code context} says
   * which two maps are compared (e.g. "the model's labels vs the training data's").
   */
  public void requireSame(LabelMap other, String context) {
    if (equals(other)) return;
    List<String> missing = new ArrayList<>(other.names);
    missing.removeAll(names);
    List<String> extra = new ArrayList<>(names);
    extra.removeAll(other.names);
    List<String> why = new ArrayList<>();
    if (!extra.isEmpty()) why.add("only in the first: " + extra);
    if (!missing.isEmpty()) why.add("only in the second: " + missing);
    if (why.isEmpty()) {
      int i = 0;
      while (names.get(i).equals(other.names.get(i))) i++;
      why.add("same labels in another order: id " + i + " is '" + names.get(i) + "' vs '" + other.names.get(i) + "'");
    }
    throw new MtpfException(context + ": label maps differ (" + String.join("; ", why) + ")");
  }

  /** Writes {"labels": [...]} (atomically: a half-written map is never left behind). */
  public void save(Path file) {
    ObjectNode root = JSON.createObjectNode();
    ArrayNode list = root.putArray("labels");
    names.forEach(list::add);
    AtomicFiles.write(file, "the label map", tmp -> JSON.writeValue(tmp.toFile(), root));
  }

  /**
   * Reads a label map: {"labels": [...]} as {@link #save} writes it, a bare JSON array of names (e.g. banking77's
   * categories.json), or a Hugging Face config.json's "id2label" (ids 0..n-1).
   */
  public static LabelMap load(Path file) {
    JsonNode root;
    try (var in = DataFiles.open(file)) {
      root = JSON.readTree(in);
    } catch (IOException e) {
      throw new MtpfException(file + ": not a JSON label map (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
    }
    if (root != null && root.isObject() && root.has("labels")) root = root.get("labels");
    if (root != null && root.isArray()) {
      List<String> names = new ArrayList<>();
      for (JsonNode n : root) {
        if (!n.isTextual() && !n.isIntegralNumber()) throw new MtpfException(file + ": label map entries must be strings, got " + n);
        names.add(n.asText());
      }
      return withSource(file, names);
    }
    if (root != null && root.isObject() && root.has("id2label") && root.get("id2label").isObject()) {
      JsonNode id2label = root.get("id2label");
      String[] names = new String[id2label.size()];
      for (Map.Entry<String, JsonNode> e : id2label.properties()) {
        int id;
        try {
          id = Integer.parseInt(e.getKey());
        } catch (NumberFormatException ex) {
          throw new MtpfException(file + ": id2label key '" + e.getKey() + "' is not an integer id");
        }
        if (id < 0 || id >= names.length || names[id] != null) {
          throw new MtpfException(file + ": id2label ids must be 0.." + (names.length - 1) + " each once, got " + id);
        }
        names[id] = e.getValue().asText();
      }
      return withSource(file, List.of(names));
    }
    throw new MtpfException(file + ": not a label map (expected {\"labels\": [...]}, a JSON array, or {\"id2label\": {...}})");
  }

  private static LabelMap withSource(Path file, List<String> names) {
    try {
      return new LabelMap(names);
    } catch (MtpfException e) {
      throw new MtpfException(file + ": " + e.getMessage(), e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LabelMap other && names.equals(other.names);
  }

  @Override
  public int hashCode() {
    return names.hashCode();
  }

  @Override
  public String toString() {
    return "LabelMap" + preview();
  }
}
