package io.mtpf.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mtpf.runtime.BioDecoder.Chunk;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.WordPieceTokenizer;
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

/** Entities as seqeval's get_entities finds them, and a head's token logits to entities with character spans. */
class BioDecoderTest {
  static List<String> tags(String spaceSeparated) {
    return List.of(spaceSeparated.split(" "));
  }

  /** tags, expected entities as (type, first, last). */
  static Stream<Arguments> entityVectors() {
    return Stream.of(
        // seqeval tests/test_metrics.py test_get_entities.
        Arguments.of("O O O B-MISC I-MISC I-MISC O B-PER I-PER", List.of(new Chunk("MISC", 3, 5), new Chunk("PER", 7, 8))),
        // seqeval get_entities docstring.
        Arguments.of("B-PER I-PER O B-LOC", List.of(new Chunk("PER", 0, 1), new Chunk("LOC", 3, 3))),
        // A stray I- after O starts an entity; a type change ends one and starts the next.
        Arguments.of("I-PER I-PER O I-LOC B-LOC", List.of(new Chunk("PER", 0, 1), new Chunk("LOC", 3, 3), new Chunk("LOC", 4, 4))),
        Arguments.of("B-PER I-LOC I-LOC", List.of(new Chunk("PER", 0, 0), new Chunk("LOC", 1, 2))),
        // IOB1: B- splits two adjacent entities of one type.
        Arguments.of("I-ORG I-ORG B-ORG I-ORG", List.of(new Chunk("ORG", 0, 1), new Chunk("ORG", 2, 3))),
        // IOBES.
        Arguments.of("S-PER B-LOC I-LOC E-LOC S-LOC O", List.of(new Chunk("PER", 0, 0), new Chunk("LOC", 1, 3), new Chunk("LOC", 4, 4))),
        // IOE: E- ends each entity; an I- after E- starts the next.
        Arguments.of("I-NP E-NP I-NP E-NP", List.of(new Chunk("NP", 0, 1), new Chunk("NP", 2, 3))),
        // Types may hold '-' (everything after the first '-'); bare tags have type "_" as in seqeval.
        Arguments.of("B-GPE-city I-GPE-city", List.of(new Chunk("GPE-city", 0, 1))),
        Arguments.of("B I O", List.of(new Chunk("_", 0, 1))),
        Arguments.of("O O", List.of()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("entityVectors")
  void entitiesAsSeqeval(String tags, List<Chunk> expected) {
    assertEquals(expected, BioDecoder.chunks(tags(tags)));
  }

  @Test
  void sentencesAreJoinedWithOneO() {
    // seqeval tests/test_metrics.py test_get_entities_with_only_IOB.
    List<List<String>> sentences = List.of(tags("O O O B I I O"), tags("B I O"));
    assertEquals(List.of(new Chunk("_", 3, 5), new Chunk("_", 8, 9)), BioDecoder.chunksOfSentences(sentences));
    // An entity at a sentence's end does not run into the next sentence.
    assertEquals(List.of(new Chunk("PER", 0, 0), new Chunk("PER", 2, 2)),
        BioDecoder.chunksOfSentences(List.of(tags("B-PER"), tags("I-PER"))));
  }

  private static final List<String> LABELS = List.of("O", "B-PER", "I-PER", "S-LOC");

  /** A row of logits whose argmax is {@code label} with softmax probability 0.5 against three equal others. */
  private static float[] row(int label) {
    float[] z = new float[LABELS.size()];
    z[label] = (float) Math.log(3);
    return z;
  }

  @Test
  void logitsBecomeEntitiesAtEachWordsFirstSubToken(@TempDir Path tmp) throws IOException {
    Files.write(tmp.resolve("vocab.txt"), List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "ann", "##a", "met", "bob", "in", "rome"));
    WordPieceTokenizer tokenizer = WordPieceTokenizer.fromVocab(tmp.resolve("vocab.txt"), true);
    String text = "Anna met Bob in Rome";
    Encoding e = tokenizer.encode(text, 32);
    // [CLS] ann ##a met bob in rome [SEP]: the second sub-token of "Anna" says O, which the first sub-token overrules.
    assertEquals(8, e.length());
    float[][] logits = {row(0), row(1), row(0), row(0), row(1), row(0), row(3), row(0)};
    List<Entity> entities = BioDecoder.entities(text, e, logits, LABELS);
    assertEquals(3, entities.size());
    assertEntity("PER", "Anna", 0, 0.5, entities.get(0));
    assertEntity("PER", "Bob", 9, 0.5, entities.get(1));
    assertEntity("LOC", "Rome", 16, 0.5, entities.get(2));  // S- is seqeval's single-word entity
    // Two words of one entity: the score is their mean probability, the span covers both.
    logits[3] = row(2);
    logits[3][2] = (float) Math.log(9);  // probability 0.75
    assertEntity("PER", "Anna met", 0, 0.625, BioDecoder.entities(text, e, logits, LABELS).get(0));
  }

  private static void assertEntity(String type, String text, int start, double score, Entity actual) {
    assertEquals(type, actual.type());
    assertEquals(text, actual.text());
    assertEquals(start, actual.start());
    assertEquals(start + text.length(), actual.end());
    assertEquals(score, actual.score(), 1e-6);
  }

  @Test
  void refusesLogitsThatDoNotFitTheText(@TempDir Path tmp) throws IOException {
    Files.write(tmp.resolve("vocab.txt"), List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "bob"));
    Encoding e = WordPieceTokenizer.fromVocab(tmp.resolve("vocab.txt"), true).encode("bob", 32);
    assertThrows(IllegalArgumentException.class, () -> BioDecoder.entities("bob", e, new float[][] {row(0)}, LABELS));
    float[][] wide = {new float[5], new float[5], new float[5]};
    wide[1][4] = 9;  // a class past the labels wins
    assertThrows(IllegalArgumentException.class, () -> BioDecoder.entities("bob", e, wide, LABELS));
  }
}
