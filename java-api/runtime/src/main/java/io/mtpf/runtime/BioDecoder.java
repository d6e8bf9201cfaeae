package io.mtpf.runtime;

import io.mtpf.tokenizer.Encoding;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Tags to entities, once for every tagger and scorer: seqeval's {@code get_entities} on tag sequences
 * ({@link #chunks}), and a token-classification head's logits to entities with character offsets
 * ({@link #wordTags}, {@link #entities}: the runtime's {@link Backbone#tag}, the libtorch core's tagger and the NER
 * evaluation all use them).
 *
 * <p>{@link #chunks} follows seqeval's default, conlleval-compatible mode rule for rule: a tag is its first character
 * (B, I, E, S, O) and a type (what follows the first '-'); B- and S- always start an entity, an I- or E- after O (or
 * after an entity of another type) starts one too, a type change ends one, and E- / S- end one. So IOB1, IOB2, IOE
 * and IOBES sequences all decode, and a stray I- after O counts as an entity, as in seqeval.
 */
public final class BioDecoder {
  private BioDecoder() {}

  /** An entity: words {@code first..last} (both inclusive, as in seqeval) of one sequence have this type. */
  public record Chunk(String type, int first, int last) {}

  /**
   * seqeval's {@code get_entities} on one flat sequence: entities in order, {@code first}/{@code last} indexes into
   * {@code tags}. Any string is accepted as seqeval accepts it (a tag without '-' has type "_").
   */
  public static List<Chunk> chunks(List<String> tags) {
    List<Chunk> chunks = new ArrayList<>();
    String prevTag = "O";
    String prevType = "";
    int begin = 0;
    int n = tags.size();
    for (int i = 0; i <= n; i++) {
      String chunk = i < n ? tags.get(i) : "O";  // seqeval appends one 'O' so that a last entity is closed
      if (chunk.isEmpty()) throw new IllegalArgumentException("empty tag at position " + i);
      int tagEnd = Character.charCount(chunk.codePointAt(0));
      String tag = chunk.substring(0, tagEnd);
      String rest = chunk.substring(tagEnd);
      int dash = rest.indexOf('-');
      String type = dash >= 0 ? rest.substring(dash + 1) : rest;  // Python: chunk[1:].split('-', 1)[-1] or '_'
      if (type.isEmpty()) type = "_";
      if (endOfChunk(prevTag, tag, prevType, type)) chunks.add(new Chunk(prevType, begin, i - 1));
      if (startOfChunk(prevTag, tag, prevType, type)) begin = i;
      prevTag = tag;
      prevType = type;
    }
    return chunks;
  }

  /**
   * seqeval on a list of sentences: the sentences are joined with one 'O' after each (so no entity crosses a
   * sentence boundary), and {@code first}/{@code last} index that joined sequence.
   */
  public static List<Chunk> chunksOfSentences(List<? extends List<String>> sentences) {
    int total = 0;
    for (List<String> s : sentences) total += s.size() + 1;
    List<String> joined = new ArrayList<>(total);
    for (List<String> s : sentences) {
      joined.addAll(s);
      joined.add("O");
    }
    return chunks(joined);
  }

  /**
   * Each word's tag (of the encoding's first sequence): the argmax of the logits [token][class] at the word's first
   * sub-token, "O" for a word without tokens (normalization or truncation removed it). When {@code probabilities}
   * is not null it receives each tag's softmax probability (0 for "O" without tokens). Logit rows may be longer than
   * {@code labels} only with -inf past it (a batch of heads with different class counts).
   */
  public static String[] wordTags(Encoding encoding, float[][] tokenLogits, List<String> labels, double[] probabilities) {
    int[] first = encoding.firstSubtokenIndices();
    String[] tags = new String[first.length];
    for (int w = 0; w < first.length; w++) {
      if (first[w] < 0) {
        tags[w] = "O";
        continue;
      }
      if (first[w] >= tokenLogits.length)
        throw new IllegalArgumentException("wordTags: " + tokenLogits.length + " logit rows for " + encoding.length() + " tokens");
      float[] z = tokenLogits[first[w]];
      int best = 0;
      for (int c = 1; c < z.length; c++) if (z[c] > z[best]) best = c;
      if (best >= labels.size())
        throw new IllegalArgumentException("wordTags: class " + best + " wins but there are " + labels.size() + " labels");
      tags[w] = labels.get(best);
      if (probabilities != null) {
        double sum = 0;
        for (float v : z) sum += Math.exp(v - z[best]);
        probabilities[w] = 1 / sum;
      }
    }
    return tags;
  }

  /**
   * The entities of one text from a head's logits [token][class] over its encoding: {@link #wordTags} decoded by
   * {@link #chunks}; an entity spans its words' characters and scores the mean of its words' tag probabilities. A
   * word without tokens has an empty span where the previous word ended.
   */
  public static List<Entity> entities(String text, Encoding encoding, float[][] tokenLogits, List<String> labels) {
    int words = encoding.wordCount();
    if (words == 0) return Collections.emptyList();
    double[] probability = new double[words];
    String[] tags = wordTags(encoding, tokenLogits, labels, probability);
    int[] wordIds = encoding.wordIds(), sequenceIds = encoding.sequenceIds();
    int[] starts = encoding.charStart(), ends = encoding.charEnd();
    int[] wordStart = new int[words], wordEnd = new int[words];
    Arrays.fill(wordStart, -1);
    for (int t = 0; t < wordIds.length; t++) {
      int w = wordIds[t];
      if (w < 0 || w >= words || sequenceIds[t] != 0) continue;
      if (wordStart[w] < 0) wordStart[w] = starts[t];
      wordEnd[w] = ends[t];
    }
    for (int w = 0; w < words; w++) {
      if (wordStart[w] < 0) wordStart[w] = wordEnd[w] = w == 0 ? 0 : wordEnd[w - 1];
    }
    List<Entity> out = new ArrayList<>();
    for (Chunk c : chunks(Arrays.asList(tags))) {
      double score = 0;
      for (int w = c.first(); w <= c.last(); w++) score += probability[w];
      int start = wordStart[c.first()], end = wordEnd[c.last()];
      out.add(new Entity(c.type(), start, end, text.substring(start, end), score / (c.last() - c.first() + 1)));
    }
    return Collections.unmodifiableList(out);
  }

  private static boolean endOfChunk(String prevTag, String tag, String prevType, String type) {
    boolean end = false;
    if (prevTag.equals("E")) end = true;
    if (prevTag.equals("S")) end = true;
    if (prevTag.equals("B") && tag.equals("B")) end = true;
    if (prevTag.equals("B") && tag.equals("S")) end = true;
    if (prevTag.equals("B") && tag.equals("O")) end = true;
    if (prevTag.equals("I") && tag.equals("B")) end = true;
    if (prevTag.equals("I") && tag.equals("S")) end = true;
    if (prevTag.equals("I") && tag.equals("O")) end = true;
    if (!prevTag.equals("O") && !prevTag.equals(".") && !prevType.equals(type)) end = true;
    return end;
  }

  private static boolean startOfChunk(String prevTag, String tag, String prevType, String type) {
    boolean start = false;
    if (tag.equals("B")) start = true;
    if (tag.equals("S")) start = true;
    if (prevTag.equals("E") && tag.equals("E")) start = true;
    if (prevTag.equals("E") && tag.equals("I")) start = true;
    if (prevTag.equals("S") && tag.equals("E")) start = true;
    if (prevTag.equals("S") && tag.equals("I")) start = true;
    if (prevTag.equals("O") && tag.equals("E")) start = true;
    if (prevTag.equals("O") && tag.equals("I")) start = true;
    if (!tag.equals("O") && !tag.equals(".") && !prevType.equals(type)) start = true;
    return start;
  }
}
