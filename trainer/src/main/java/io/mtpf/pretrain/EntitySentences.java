package io.mtpf.pretrain;

import io.mtpf.data.BadLines;
import io.mtpf.data.DataFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A labelled CoNLL NER file read as sentences of words with their entity spans, and the pool of entities by type
 * that the §5 entity-swap probe draws replacements from. Lines are {@code token<TAB>label} (or space-separated
 * columns: first = token, last = label), blank lines between sentences, -DOCSTART- lines skipped. Labels are O or
 * B-type / I-type in IOB2 or IOB1 (where I- may start an entity and B- only splits two adjacent same-type ones).
 */
public final class EntitySentences {
  private EntitySentences() {}

  /** Words [start, end) of a sentence form one entity of this type. */
  public record Span(int start, int end, String type) {
    public Span {
      if (start < 0 || end <= start) throw new IllegalArgumentException("bad span [" + start + ", " + end + ")");
    }
  }

  /** One sentence; spans are sorted and never overlap. */
  public record Sentence(List<String> words, List<Span> entities) {
    public Sentence {
      words = List.copyOf(words);
      entities = List.copyOf(entities);
    }

    public List<String> surface(Span span) {
      return words.subList(span.start(), span.end());
    }
  }

  /** Reads every sentence (with or without entities); malformed lines go to {@code bad} as file:line. */
  public static List<Sentence> read(Path file, BadLines bad) {
    List<Sentence> out = new ArrayList<>();
    SentenceBuilder current = new SentenceBuilder();
    DataFiles.forEachLine(file, (lineNo, line) -> {
      if (line.isBlank()) {
        current.finishInto(out);
        return;
      }
      String[] cols = line.strip().split(line.indexOf('\t') >= 0 ? "\t" : "\\s+");
      String word = cols[0].strip();
      if (word.equals("-DOCSTART-")) return;
      if (cols.length < 2) {
        bad.report(file.toString(), lineNo, "no label column in '" + line + "' (expected token<TAB>label)");
        return;
      }
      String label = cols[cols.length - 1].strip();
      String error = current.add(word, label);
      if (error != null) bad.report(file.toString(), lineNo, error);
    });
    current.finishInto(out);
    return out;
  }

  /**
   * The distinct surface forms (word lists) of each entity type, in first-seen order so that seeded draws from
   * it are reproducible.
   */
  public static Map<String, List<List<String>>> entityPool(List<Sentence> sentences) {
    Map<String, Set<List<String>>> distinct = new LinkedHashMap<>();
    for (Sentence s : sentences) {
      for (Span span : s.entities()) {
        distinct.computeIfAbsent(span.type(), t -> new LinkedHashSet<>()).add(List.copyOf(s.surface(span)));
      }
    }
    Map<String, List<List<String>>> pool = new LinkedHashMap<>();
    distinct.forEach((type, forms) -> pool.put(type, List.copyOf(forms)));
    return pool;
  }

  /** Accumulates one sentence's words and decodes its IOB labels into spans. */
  private static final class SentenceBuilder {
    private final List<String> words = new ArrayList<>();
    private final List<Span> spans = new ArrayList<>();
    private int openStart = -1;
    private String openType;

    /** Adds a word; returns why the label is malformed (and adds nothing), or null. */
    String add(String word, String label) {
      String prefix;
      String type;
      if (label.equals("O")) {
        prefix = "O";
        type = null;
      } else {
        int dash = label.indexOf('-');
        prefix = dash < 0 ? label : label.substring(0, dash);
        type = dash < 0 ? "" : label.substring(dash + 1);
        if (!prefix.equals("B") && !prefix.equals("I")) {
          return "label '" + label + "' has an unknown prefix (expected O, B-type or I-type)";
        }
        if (type.isEmpty()) return "label '" + label + "' has no entity type";
      }
      int index = words.size();
      words.add(word);
      // B- always starts an entity; I- continues an open one of its type, else starts one (IOB1, or stray I-).
      boolean continues = prefix.equals("I") && type.equals(openType);
      if (!continues) {
        close(index);
        if (type != null) {
          openStart = index;
          openType = type;
        }
      }
      return null;
    }

    private void close(int end) {
      if (openType != null) spans.add(new Span(openStart, end, openType));
      openStart = -1;
      openType = null;
    }

    void finishInto(List<Sentence> out) {
      close(words.size());
      if (!words.isEmpty()) out.add(new Sentence(words, spans));
      words.clear();
      spans.clear();
    }
  }
}
