package io.mtpf.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/** Real sentences from ../shared/data for parity tests: short CoNLL sentences, tweets, long news texts. */
public final class Sentences {
  private Sentences() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Up to {@code n} sentences of a CoNLL `token<TAB>label` file, tokens joined by spaces. */
  public static List<List<String>> conllWords(String relative, int n) {
    List<List<String>> out = new ArrayList<>();
    try (BufferedReader in = RealData.gzipReader(RealData.file(relative))) {
      List<String> words = new ArrayList<>();
      for (String line; (line = in.readLine()) != null && out.size() < n; ) {
        if (line.isBlank()) {
          if (!words.isEmpty() && !words.get(0).equals("-DOCSTART-")) out.add(words);
          words = new ArrayList<>();
        } else {
          words.add(line.split("\t| ", 2)[0]);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** The "text" field of up to {@code n} lines of a JSON-lines file. */
  public static List<String> jsonlTexts(String relative, int n) {
    List<String> out = new ArrayList<>();
    try (BufferedReader in = RealData.gzipReader(RealData.file(relative))) {
      for (String line; (line = in.readLine()) != null && out.size() < n; ) {
        JsonNode node = JSON.readTree(line);
        if (node.hasNonNull("text") && !node.get("text").asText().isBlank()) out.add(node.get("text").asText());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** A mix of lengths: CoNLL sentences, tweets, banking queries, and news texts. */
  public static List<String> mixed(int perSource) {
    List<String> out = new ArrayList<>();
    for (List<String> words : conllWords("conll2003/test.txt.gz", perSource)) out.add(String.join(" ", words));
    out.addAll(jsonlTexts("tweet_sentiment_extraction/test.jsonl.gz", perSource));
    out.addAll(jsonlTexts("banking77/test.jsonl.gz", perSource));
    out.addAll(jsonlTexts("ag_news/test.jsonl.gz", perSource));
    return out;
  }
}
