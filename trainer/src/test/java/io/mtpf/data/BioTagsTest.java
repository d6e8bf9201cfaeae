package io.mtpf.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.data.BioTags.Scheme;
import io.mtpf.runtime.BioDecoder;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** IOB1/IOBES to IOB2, scheme detection, tag validation (the entities themselves: BioDecoderTest). */
class BioTagsTest {
  static List<String> tags(String spaceSeparated) {
    return List.of(spaceSeparated.split(" "));
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
    assertEquals(BioDecoder.chunks(tags(input)), BioDecoder.chunks(tags(iob2)), "the same entities");
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
