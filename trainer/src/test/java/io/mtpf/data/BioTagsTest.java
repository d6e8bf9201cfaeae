package io.mtpf.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.data.BioTags.Entity;
import io.mtpf.data.BioTags.Scheme;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Entities as seqeval's get_entities finds them, IOB1/IOBES to IOB2, scheme detection, tag validation. */
class BioTagsTest {
  static List<String> tags(String spaceSeparated) {
    return List.of(spaceSeparated.split(" "));
  }

  /** tags, expected entities as (type, first, last). */
  static Stream<Arguments> entityVectors() {
    return Stream.of(
        // seqeval tests/test_metrics.py test_get_entities.
        Arguments.of("O O O B-MISC I-MISC I-MISC O B-PER I-PER", List.of(new Entity("MISC", 3, 5), new Entity("PER", 7, 8))),
        // seqeval get_entities docstring.
        Arguments.of("B-PER I-PER O B-LOC", List.of(new Entity("PER", 0, 1), new Entity("LOC", 3, 3))),
        // A stray I- after O starts an entity; a type change ends one and starts the next.
        Arguments.of("I-PER I-PER O I-LOC B-LOC", List.of(new Entity("PER", 0, 1), new Entity("LOC", 3, 3), new Entity("LOC", 4, 4))),
        Arguments.of("B-PER I-LOC I-LOC", List.of(new Entity("PER", 0, 0), new Entity("LOC", 1, 2))),
        // IOB1: B- splits two adjacent entities of one type.
        Arguments.of("I-ORG I-ORG B-ORG I-ORG", List.of(new Entity("ORG", 0, 1), new Entity("ORG", 2, 3))),
        // IOBES.
        Arguments.of("S-PER B-LOC I-LOC E-LOC S-LOC O", List.of(new Entity("PER", 0, 0), new Entity("LOC", 1, 3), new Entity("LOC", 4, 4))),
        // IOE: E- ends each entity; an I- after E- starts the next.
        Arguments.of("I-NP E-NP I-NP E-NP", List.of(new Entity("NP", 0, 1), new Entity("NP", 2, 3))),
        // Types may hold '-' (everything after the first '-'); bare tags have type "_" as in seqeval.
        Arguments.of("B-GPE-city I-GPE-city", List.of(new Entity("GPE-city", 0, 1))),
        Arguments.of("B I O", List.of(new Entity("_", 0, 1))),
        Arguments.of("O O", List.of()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("entityVectors")
  void entitiesAsSeqeval(String tags, List<Entity> expected) {
    assertEquals(expected, BioTags.entities(tags(tags)));
  }

  @Test
  void sentencesAreJoinedWithOneO() {
    // seqeval tests/test_metrics.py test_get_entities_with_only_IOB.
    List<List<String>> sentences = List.of(tags("O O O B I I O"), tags("B I O"));
    assertEquals(List.of(new Entity("_", 3, 5), new Entity("_", 8, 9)), BioTags.entitiesOfSentences(sentences));
    // An entity at a sentence's end does not run into the next sentence.
    assertEquals(List.of(new Entity("PER", 0, 0), new Entity("PER", 2, 2)),
        BioTags.entitiesOfSentences(List.of(tags("B-PER"), tags("I-PER"))));
  }

  /** input tags, IOB2 tags, scheme of the input. */
  static Stream<Arguments> conversions() {
    return Stream.of(
        Arguments.of("B-PER I-PER O B-LOC", "B-PER I-PER O B-LOC", Scheme.IOB2),
        Arguments.of("O O", "O O", Scheme.IOB2),
        Arguments.of("I-PER I-PER O I-LOC", "B-PER I-PER O B-LOC", Scheme.IOB1),
        Arguments.of("I-ORG I-ORG B-ORG I-ORG", "B-ORG I-ORG B-ORG I-ORG", Scheme.IOB1),
        Arguments.of("B-PER I-LOC", "B-PER B-LOC", Scheme.IOB1),
        Arguments.of("S-PER B-LOC I-LOC E-LOC S-LOC O", "B-PER B-LOC I-LOC I-LOC B-LOC O", Scheme.IOBES),
        Arguments.of("I-NP E-NP I-NP E-NP", "B-NP I-NP B-NP I-NP", Scheme.IOBES));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("conversions")
  void convertsToIob2AndDetectsTheScheme(String input, String iob2, Scheme scheme) {
    assertEquals(tags(iob2), BioTags.toIob2(tags(input)));
    assertEquals(tags(iob2), BioTags.toIob2(tags(iob2)), "IOB2 is a fixed point");
    assertEquals(scheme, BioTags.schemeOf(tags(input)));
    assertEquals(BioTags.entities(tags(input)), BioTags.entities(tags(iob2)), "the same entities");
  }

  @Test
  void aFilesSchemeIsItsMostTellingSentence() {
    assertEquals(Scheme.IOB2, BioTags.detect(List.of(tags("B-PER O"), tags("O"))));
    assertEquals(Scheme.IOB1, BioTags.detect(List.of(tags("B-PER O"), tags("O I-LOC"))));
    assertEquals(Scheme.IOBES, BioTags.detect(List.of(tags("O I-LOC"), tags("S-PER"))));
  }

  /** tag, true when a reader accepts it. */
  static Stream<Arguments> validation() {
    return Stream.of(
        Arguments.of("O", true), Arguments.of("B-PER", true), Arguments.of("I-cell_line", true), Arguments.of("E-X", true),
        Arguments.of("S-GPE-city", true), Arguments.of("B-", false), Arguments.of("X-PER", false), Arguments.of("PER", false),
        Arguments.of("b-per", false), Arguments.of("B_PER", false), Arguments.of("B", false), Arguments.of("o", false),
        Arguments.of("B-two words", false));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("validation")
  void validatesTags(String tag, boolean valid) {
    String why = BioTags.whyInvalid(tag);
    if (valid) {
      assertNull(why);
    } else {
      assertTrue(why != null && why.contains("'" + tag + "'"), why);
    }
  }
}
