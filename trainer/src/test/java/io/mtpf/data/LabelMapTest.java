package io.mtpf.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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

/** Label name <-> id, the sorted order, JSON save/load and the equality check. */
class LabelMapTest {
  @TempDir Path dir;

  /** labels as read (with repeats), the sorted map. */
  static Stream<Arguments> sortedOrders() {
    return Stream.of(
        Arguments.of(List.of("sadness", "joy", "anger", "joy"), List.of("anger", "joy", "sadness")),
        // All integers: numeric order, so "10" comes after "2".
        Arguments.of(List.of("10", "2", "0", "1", "2"), List.of("0", "1", "2", "10")),
        Arguments.of(List.of("1", "-1", "0"), List.of("-1", "0", "1")),
        // Not all integers: String order (upper case before lower case).
        Arguments.of(List.of("b", "10", "2", "B"), List.of("10", "2", "B", "b")),
        Arguments.of(List.of("Sports", "World", "Business", "Sci/Tech"), List.of("Business", "Sci/Tech", "Sports", "World")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("sortedOrders")
  void sortedIsDeterministic(List<String> labels, List<String> expected) {
    LabelMap map = LabelMap.sorted(labels);
    assertEquals(expected, map.names());
    for (int i = 0; i < expected.size(); i++) {
      assertEquals(i, map.id(expected.get(i)));
      assertEquals(expected.get(i), map.name(i));
    }
    List<String> reversed = new java.util.ArrayList<>(labels);
    java.util.Collections.reverse(reversed);
    assertEquals(map, LabelMap.sorted(reversed), "independent of the order the labels were seen in");
  }

  @Test
  void lookupsNameTheProblem() {
    LabelMap map = LabelMap.of(List.of("O", "B-PER", "I-PER"));
    assertTrue(map.contains("B-PER"));
    assertFalse(map.contains("B-LOC"));
    MtpfException e = assertThrows(MtpfException.class, () -> map.id("B-LOC"));
    assertTrue(e.getMessage().contains("'B-LOC'") && e.getMessage().contains("[O, B-PER, I-PER]"), e.getMessage());
    assertThrows(MtpfException.class, () -> map.name(3));
    e = assertThrows(MtpfException.class, () -> LabelMap.of(List.of("a", "b", "a")));
    assertTrue(e.getMessage().contains("'a' appears twice"), e.getMessage());
    assertThrows(MtpfException.class, () -> LabelMap.of(List.of("a", "")));
  }

  @Test
  void savesAndLoadsJson() throws IOException {
    LabelMap map = LabelMap.of(List.of("O", "B-PER", "I-PER", "B-\"quoted\"", "I-日本"));
    Path file = dir.resolve("run/label_map.json");
    map.save(file);
    assertEquals(map, LabelMap.load(file));
    assertTrue(Files.readString(file).contains("\"labels\""));
    map.save(file);  // overwrite
    assertEquals(map, LabelMap.load(file));
  }

  /** file content, the map it loads as. */
  static Stream<Arguments> loadableFiles() {
    return Stream.of(
        Arguments.of("{\"labels\": [\"neg\", \"pos\"]}", List.of("neg", "pos")),
        // A bare array (banking77's categories.json) keeps its order.
        Arguments.of("[\"card_arrival\", \"card_linking\", \"age_limit\"]", List.of("card_arrival", "card_linking", "age_limit")),
        // A Hugging Face config.json.
        Arguments.of("{\"architectures\": [\"BertForTokenClassification\"], \"id2label\": {\"1\": \"B-PER\", \"0\": \"O\", \"2\": \"I-PER\"}}",
            List.of("O", "B-PER", "I-PER")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("loadableFiles")
  void loadsTheUsualShapes(String content, List<String> expected) throws IOException {
    Path file = Files.writeString(dir.resolve("map.json"), content);
    assertEquals(expected, LabelMap.load(file).names());
  }

  /** file content, part of the error. */
  static Stream<Arguments> badFiles() {
    return Stream.of(
        Arguments.of("{\"labels\": [\"a\", \"a\"]}", "'a' appears twice"),
        Arguments.of("{\"id2label\": {\"0\": \"O\", \"2\": \"B-PER\"}}", "id2label ids must be 0..1"),
        Arguments.of("{\"names\": []}", "not a label map"),
        Arguments.of("{\"labels\": [\"a\",", "not a JSON label map"),
        Arguments.of("{\"labels\": [{\"x\": 1}]}", "entries must be strings"));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("badFiles")
  void badFilesNameTheFile(String content, String expected) throws IOException {
    Path file = Files.writeString(dir.resolve("bad.json"), content);
    MtpfException e = assertThrows(MtpfException.class, () -> LabelMap.load(file));
    assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains(expected), e.getMessage());
  }

  @Test
  void requireSameSaysWhatDiffers() {
    LabelMap abc = LabelMap.of(List.of("a", "b", "c"));
    abc.requireSame(LabelMap.of(List.of("a", "b", "c")), "same");
    assertEquals(abc.hashCode(), LabelMap.of(List.of("a", "b", "c")).hashCode());
    assertNotEquals(abc, LabelMap.of(List.of("a", "c", "b")));

    MtpfException e = assertThrows(MtpfException.class, () -> abc.requireSame(LabelMap.of(List.of("a", "c", "b")), "model vs data"));
    assertEquals("model vs data: label maps differ (same labels in another order: id 1 is 'b' vs 'c')", e.getMessage());
    e = assertThrows(MtpfException.class, () -> abc.requireSame(LabelMap.of(List.of("a", "b", "d")), "model vs data"));
    assertEquals("model vs data: label maps differ (only in the first: [c]; only in the second: [d])", e.getMessage());
    e = assertThrows(MtpfException.class, () -> abc.requireSame(LabelMap.of(List.of("a", "b")), "x"));
    assertEquals("x: label maps differ (only in the first: [c])", e.getMessage());
  }
}
