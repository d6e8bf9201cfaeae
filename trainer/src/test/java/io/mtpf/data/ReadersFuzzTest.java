package io.mtpf.data;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.mtpf.MtpfException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Jazzer fuzz tests of the data readers, one per file format a user hands over: CoNLL (2003 and 2012), NER JSON
 * lines, pair TSV / CSV / JSONL, classification CSV / TSV / JSONL, and the word corpora of pseudo-labelling. Each
 * reads in both modes (fail on a bad line; --skip-bad-lines). A refused file must raise an MtpfException naming
 * it; any other exception is a finding. Regression inputs: src/test/resources/io/mtpf/data/ReadersFuzzTestInputs.
 */
class ReadersFuzzTest {
  private static final Path DIR = tempDir();

  @FuzzTest(maxDuration = "30s")
  void conll(byte[] data) throws IOException {
    Path f = write("conll2003/train.txt", data);
    both(f, bad -> NerReaders.read(f, bad));
    Path f2012 = write("ontonotes/train.english.v4_gold_conll", data);
    both(f2012, bad -> NerReaders.read(f2012, bad));
  }

  @FuzzTest(maxDuration = "30s")
  void nerJsonLines(byte[] data) throws IOException {
    Path f = write("crossner/train.jsonl", data);
    both(f, bad -> NerReaders.read(f, NerDataset.tagMap(java.util.List.of("PER", "LOC")), bad));
    both(f, bad -> NerReaders.read(f, bad));
  }

  @FuzzTest(maxDuration = "30s")
  void pairs(byte[] data) throws IOException {
    for (String name : new String[] {"pairs.tsv", "pairs.csv", "pairs.jsonl"}) {
      Path f = write("pairs/" + name, data);
      both(f, bad -> PairReaders.read(f, "fuzz", bad));
    }
  }

  @FuzzTest(maxDuration = "30s")
  void classification(byte[] data) throws IOException {
    for (String name : new String[] {"train.csv", "train.tsv", "train.jsonl"}) {
      Path f = write("tc/" + name, data);
      both(f, bad -> ClassificationReaders.read(f, bad));
    }
  }

  @FuzzTest(maxDuration = "30s")
  void wordCorpus(byte[] data) throws IOException {
    for (String name : new String[] {"corpus.txt", "corpus.jsonl", "corpus.conll"}) {
      Path f = write("words/" + name, data);
      both(f, bad -> WordCorpus.read(f, WordCorpus.detectFormat(f), bad));
    }
  }

  interface Read {
    Object read(BadLines bad);
  }

  private static void both(Path file, Read read) {
    for (BadLines bad : new BadLines[] {BadLines.fail(), BadLines.skip()}) {
      try {
        read.read(bad);
      } catch (MtpfException e) {
        assertTrue(e.getMessage() != null && e.getMessage().contains(file.getFileName().toString()),
            "the error names the file: " + e.getMessage());
      }
    }
  }

  private static Path write(String name, byte[] data) throws IOException {
    Path f = DIR.resolve(name);
    Files.createDirectories(f.getParent());
    return Files.write(f, data);
  }

  private static Path tempDir() {
    try {
      return Files.createTempDirectory("mtpf-fuzz-readers");
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
