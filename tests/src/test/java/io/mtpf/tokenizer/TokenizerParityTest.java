package io.mtpf.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mtpf.testing.RealData;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * WordPieceTokenizer against HF's Rust tokenizers (through DJL) on real text: ids, tokens, type ids, word ids,
 * sequence ids and offsets must be equal, for single texts, pairs and pre-split NER words, untruncated and
 * truncated to a small max length; and every code point, for the Unicode tables. Fails on the first difference,
 * naming the input and both token lists.
 */
class TokenizerParityTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int SMALL_MAX = 16;

  @TempDir static Path tmp;
  private static Corpus corpus;

  /** The real sentences, read once; the calling test skips (visibly) without the data folder. */
  private static synchronized Corpus corpus() throws IOException {
    RealData.dir();
    if (corpus == null) corpus = Corpus.load();
    return corpus;
  }

  @ParameterizedTest
  @ValueSource(strings = {"bge-small-en-v1.5", "e5-small-v2", "all-minilm-l6-v2"})
  void realDataMatchesHf(String model) throws IOException {
    Path json = resource("/" + model + "-tokenizer.json");
    Counts n = compareAll(json, corpus());
    System.out.println("TokenizerParityTest " + model + ": " + n + ", 0 mismatches");
  }

  /** The normalizer switches and added-token kinds the three real tokenizers leave unexercised. */
  @ParameterizedTest
  @ValueSource(strings = {"cased", "lowercase-keep-accents", "no-clean-no-chinese", "added-tokens"})
  void variantsMatchHf(String variant) throws IOException {
    ObjectNode root = (ObjectNode) JSON.readTree(resource("/bge-small-en-v1.5-tokenizer.json").toFile());
    ObjectNode norm = (ObjectNode) root.get("normalizer");
    Corpus texts = corpus().everyNth(4); // the switches need variety more than volume
    switch (variant) {
      case "cased":
        norm.put("lowercase", false);
        break;
      case "lowercase-keep-accents":
        norm.put("strip_accents", false);
        break;
      case "no-clean-no-chinese":
        norm.put("clean_text", false).put("handle_chinese_chars", false);
        break;
      case "added-tokens":
        ArrayNode added = (ArrayNode) root.get("added_tokens");
        added.addObject().put("id", 30522).put("content", "New York").put("single_word", false).put("lstrip", false)
            .put("rstrip", false).put("normalized", true).put("special", false);
        added.addObject().put("id", 30523).put("content", "<mask>").put("single_word", false).put("lstrip", true)
            .put("rstrip", true).put("normalized", false).put("special", true);
        added.addObject().put("id", 30524).put("content", "the").put("single_word", true).put("lstrip", false)
            .put("rstrip", false).put("normalized", false).put("special", false);
        texts = texts.map(s -> s.replace(" a ", " <mask> ").replace("York", "YORK"));
        break;
      default:
        fail(variant);
    }
    Path json = tmp.resolve(variant + "-tokenizer.json");
    JSON.writeValue(json.toFile(), root);
    Counts n = compareAll(json, texts);
    int codePoints = compareEveryCodePoint(json, 0x2FFFF);
    System.out.println("TokenizerParityTest variant " + variant + ": " + n + ", " + codePoints + " code points, 0 mismatches");
  }

  /** One code point at a time, in and out of a word: checks the Unicode tables (UnicodeTables) against HF's. */
  @Test
  void everyCodePointMatchesHf() throws IOException {
    int n = compareEveryCodePoint(resource("/bge-small-en-v1.5-tokenizer.json"), 0x10FFFF);
    System.out.println("TokenizerParityTest: " + n + " code points, 0 mismatches");
  }

  private static Counts compareAll(Path json, Corpus c) throws IOException {
    WordPieceTokenizer mine = WordPieceTokenizer.fromTokenizerJson(json);
    Counts n = new Counts();
    try (HuggingFaceTokenizer full = djl(json, 0); HuggingFaceTokenizer small = djl(json, SMALL_MAX)) {
      for (int pass = 0; pass < 2; pass++) {
        HuggingFaceTokenizer hf = pass == 0 ? full : small;
        int max = pass == 0 ? Integer.MAX_VALUE : SMALL_MAX;
        for (Sample s : c.texts) {
          compare(s.source, new String[] {s.a}, false, hf.encode(s.a), mine.encode(s.a, max));
        }
        for (Sample s : c.pairs) {
          compare(s.source, new String[] {s.a, s.b}, false, hf.encode(s.a, s.b), mine.encode(s.a, s.b, max));
        }
        for (Sample s : c.words) {
          compare(s.source, s.words.toArray(new String[0]), true, hf.encode(s.words), mine.encodeWords(s.words, max));
        }
        if (pass == 0) n.add(c); else n.truncated(c);
      }
    }
    return n;
  }

  /** Each code point up to last as "a" + c + "b " + c, 64 to an input; on a difference, the failing one alone. */
  private static int compareEveryCodePoint(Path json, int last) throws IOException {
    WordPieceTokenizer mine = WordPieceTokenizer.fromTokenizerJson(json).withMaxLength(Integer.MAX_VALUE);
    int count = 0;
    try (HuggingFaceTokenizer hf = djl(json, 0)) {
      StringBuilder text = new StringBuilder();
      List<Integer> inText = new ArrayList<>();
      for (int cp = 0; cp <= last; cp++) {
        if (Character.getType(cp) == Character.SURROGATE || (cp > 0x3FFFF && cp < 0xE0000)) continue; // planes 4-13: empty
        String c = new String(Character.toChars(cp));
        text.append('a').append(c).append("b ").append(c).append(' ');
        inText.add(cp);
        count++;
        if (inText.size() == 64 || cp == last) {
          String s = text.toString();
          if (!sameEncoding(s, hf, mine)) {
            for (int one : inText) {
              String alone = "a" + new String(Character.toChars(one)) + "b " + new String(Character.toChars(one));
              compare(String.format("code point U+%04X", one), new String[] {alone}, false, hf.encode(alone), mine.encode(alone));
            }
            compare("code points", new String[] {s}, false, hf.encode(s), mine.encode(s));
          }
          text.setLength(0);
          inText.clear();
        }
      }
    }
    return count;
  }

  private static boolean sameEncoding(String s, HuggingFaceTokenizer hf, WordPieceTokenizer mine) {
    try {
      compare("", new String[] {s}, false, hf.encode(s), mine.encode(s));
      return true;
    } catch (AssertionError e) {
      return false;
    }
  }

  /** DJL with special tokens, no padding, and no truncation (maxLength 0) or longest_first to maxLength. */
  private static HuggingFaceTokenizer djl(Path json, int maxLength) throws IOException {
    HuggingFaceTokenizer.Builder b = HuggingFaceTokenizer.builder().optTokenizerPath(json).optAddSpecialTokens(true)
        .optPadding(false).optWithOverflowingTokens(false);
    if (maxLength > 0) b.optTruncation(true).optMaxLength(maxLength);
    else b.optTruncation(false);
    HuggingFaceTokenizer t = b.build();
    assertEquals(maxLength > 0 ? "LONGEST_FIRST" : "DO_NOT_TRUNCATE", t.getTruncation(), "DJL truncation setting");
    assertEquals("DO_NOT_PAD", t.getPadding(), "DJL padding setting");
    return t;
  }

  /**
   * Fails with both tokenizations unless they are equal. inputs: the text, the pair, or the pre-split words. HF's
   * offsets are code point indices into their input (into the word, for pre-split words), ours UTF-16 indices.
   */
  private static void compare(String source, String[] inputs, boolean preSplit, ai.djl.huggingface.tokenizers.Encoding hf,
      Encoding mine) {
    long[] hfWordIds = hf.getWordIds();
    long[] hfSeq = hf.getSequenceIds();
    CharSpan[] spans = hf.getCharTokenSpans();
    int n = hf.getIds().length;
    int[] hfStart = new int[n];
    int[] hfEnd = new int[n];
    for (int i = 0; i < n; i++) {
      if (spans[i] == null) continue;
      String in = preSplit ? inputs[(int) hfWordIds[i]] : inputs[(int) hfSeq[i]];
      hfStart[i] = in.offsetByCodePoints(0, spans[i].getStart());
      hfEnd[i] = in.offsetByCodePoints(0, spans[i].getEnd());
    }
    boolean same = Arrays.equals(toInt(hf.getIds()), mine.ids()) && Arrays.equals(hf.getTokens(), mine.tokens())
        && Arrays.equals(toInt(hf.getTypeIds()), mine.typeIds()) && Arrays.equals(toInt(hfWordIds), mine.wordIds())
        && Arrays.equals(toInt(hfSeq), mine.sequenceIds()) && Arrays.equals(toInt(hf.getAttentionMask()), mine.attentionMask())
        && Arrays.equals(hfStart, mine.charStart()) && Arrays.equals(hfEnd, mine.charEnd());
    if (!same) {
      fail("tokenizers differ on " + source + " input " + Arrays.toString(inputs)
          + "\n  HF   tokens " + Arrays.toString(hf.getTokens()) + "\n  mine tokens " + Arrays.toString(mine.tokens())
          + "\n  HF   ids " + Arrays.toString(hf.getIds()) + " words " + Arrays.toString(hfWordIds)
          + " types " + Arrays.toString(hf.getTypeIds()) + " seq " + Arrays.toString(hfSeq)
          + " offsets " + Arrays.toString(hfStart) + Arrays.toString(hfEnd)
          + "\n  mine ids " + Arrays.toString(mine.ids()) + " words " + Arrays.toString(mine.wordIds())
          + " types " + Arrays.toString(mine.typeIds()) + " seq " + Arrays.toString(mine.sequenceIds())
          + " offsets " + Arrays.toString(mine.charStart()) + Arrays.toString(mine.charEnd()));
    }
  }

  private static int[] toInt(long[] a) {
    int[] out = new int[a.length];
    for (int i = 0; i < a.length; i++) out[i] = (int) a[i];
    return out;
  }

  private static Path resource(String name) throws IOException {
    Path out = tmp.resolve(name.substring(1));
    if (!Files.exists(out)) {
      try (InputStream in = TokenizerParityTest.class.getResourceAsStream(name)) {
        if (in == null) fail("resource " + name + " is not on the test classpath (langchain4j embedding jars)");
        Files.copy(in, out);
      }
    }
    return out;
  }

  /** A text, a pair (a, b) or pre-split words, with where it came from. */
  private static final class Sample {
    final String source;
    final String a;
    final String b;
    final List<String> words;

    Sample(String source, String a, String b, List<String> words) {
      this.source = source;
      this.a = a;
      this.b = b;
      this.words = words;
    }
  }

  private static final class Counts {
    int texts, pairs, wordLists, words, truncated;

    void add(Corpus c) {
      texts += c.texts.size();
      pairs += c.pairs.size();
      wordLists += c.words.size();
      for (Sample s : c.words) words += s.words.size();
    }

    void truncated(Corpus c) {
      truncated += c.texts.size() + c.pairs.size() + c.words.size();
    }

    @Override
    public String toString() {
      return texts + " texts, " + pairs + " pairs, " + wordLists + " pre-split sentences (" + words + " words), "
          + "each again truncated to " + SMALL_MAX + " (" + truncated + " inputs)";
    }
  }

  /** Real sentences from several datasets, evenly spread over each file. */
  private static final class Corpus {
    final List<Sample> texts = new ArrayList<>();
    final List<Sample> pairs = new ArrayList<>();
    final List<Sample> words = new ArrayList<>();

    static Corpus load() throws IOException {
      Corpus c = new Corpus();
      c.jsonl("tweet_sentiment_extraction/train.jsonl.gz", 2000); // emoji, odd unicode, no-break spaces
      c.jsonl("toxic_chat_human/train.jsonl.gz", 400); // chat prompts: long, multilingual
      c.jsonl("banking77/train.jsonl.gz", 400);
      c.jsonl("emotion/train.jsonl.gz", 400);
      c.jsonl("ag_news/train_subset.jsonl.gz", 400);
      c.jsonl("financial_phrasebank/sentences_50agree.jsonl.gz", 300);
      c.jsonl("massive_intent_en/train.jsonl.gz", 300);
      c.jsonl("amazon_counterfactual_en/train.jsonl.gz", 300);
      c.conll("conll2003/train.txt.gz", 1200); // accented names
      c.conll("jnlpba/train.txt.gz", 1200); // biomedical
      c.conll("mit_restaurant/train.txt.gz", 400);
      for (String d : new String[] {"ai", "literature", "music", "politics", "science"}) c.conll("crossner_" + d + "/dev.txt.gz", 250);
      for (String line : spread(lines("pairs_mrpc/train.jsonl.gz"), 1000)) {
        JsonNode j = JSON.readTree(line);
        c.pairs.add(new Sample("pairs_mrpc", j.get("text1").asText(), j.get("text2").asText(), null));
      }
      List<String> debian = lines("pairs_debian_descriptions/pairs.tsv.gz");
      for (String line : spread(debian.subList(1, debian.size()), 800)) {
        String[] f = line.split("\t", -1);
        if (f.length == 3) c.pairs.add(new Sample("pairs_debian_descriptions", f[1], f[2], null));
      }
      return c;
    }

    Corpus everyNth(int n) {
      Corpus c = new Corpus();
      for (int i = 0; i < texts.size(); i += n) c.texts.add(texts.get(i));
      for (int i = 0; i < pairs.size(); i += n) c.pairs.add(pairs.get(i));
      for (int i = 0; i < words.size(); i += n) c.words.add(words.get(i));
      return c;
    }

    Corpus map(java.util.function.UnaryOperator<String> f) {
      Corpus c = new Corpus();
      for (Sample s : texts) c.texts.add(new Sample(s.source, f.apply(s.a), null, null));
      for (Sample s : pairs) c.pairs.add(new Sample(s.source, f.apply(s.a), f.apply(s.b), null));
      for (Sample s : words) {
        List<String> w = new ArrayList<>();
        for (String x : s.words) w.add(f.apply(x));
        c.words.add(new Sample(s.source, null, null, w));
      }
      return c;
    }

    private void jsonl(String file, int n) throws IOException {
      for (String line : spread(lines(file), n)) texts.add(new Sample(file, JSON.readTree(line).get("text").asText(), null, null));
    }

    /** CoNLL sentences both as pre-split words and joined into one text. */
    private void conll(String file, int n) throws IOException {
      List<List<String>> sentences = new ArrayList<>();
      List<String> current = new ArrayList<>();
      Consumer<List<String>> flush = s -> {
        if (!s.isEmpty() && !s.get(0).startsWith("-DOCSTART-")) sentences.add(new ArrayList<>(s));
        s.clear();
      };
      for (String line : lines(file)) {
        if (line.isBlank()) flush.accept(current);
        else current.add(line.split("\t")[0]);
      }
      flush.accept(current);
      for (List<String> s : spread(sentences, n)) {
        words.add(new Sample(file + " (pre-split)", null, null, s));
        texts.add(new Sample(file, String.join(" ", s), null, null));
      }
    }

    private static List<String> lines(String file) throws IOException {
      List<String> out = new ArrayList<>();
      try (BufferedReader r = RealData.gzipReader(RealData.file(file))) {
        for (String line = r.readLine(); line != null; line = r.readLine()) out.add(line);
      }
      return out;
    }

    private static <T> List<T> spread(List<T> all, int n) {
      if (all.size() <= n) return all;
      List<T> out = new ArrayList<>(n);
      for (int i = 0; i < n; i++) out.add(all.get((int) ((long) i * all.size() / n)));
      return out;
    }
  }
}
