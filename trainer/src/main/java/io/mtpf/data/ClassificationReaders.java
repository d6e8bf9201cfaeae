package io.mtpf.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.MtpfException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Text-classification files, plain or gzip, read into a {@link TextClassificationDataset}:
 *
 * <ul>
 *   <li>JSON lines ({@code .jsonl}): one object per line with a text field and a label field (string or integer).
 *   <li>CSV ({@code .csv}), RFC 4180: comma-separated, a field with commas, quotes or line breaks is wrapped in double
 *       quotes and its quotes doubled; the first record is a header naming the columns.
 *   <li>TSV ({@code .tsv}): tab-separated with a header, no quoting (a field cannot hold a tab or a line break).
 * </ul>
 *
 * The text and label columns (fields) are "text" and "label" unless {@link Columns} names others. A label is kept
 * as its text ("1" from JSON 1 or from CSV 1 alike). Without a given map, a dataset's label map is its distinct labels
 * sorted (numerically when all are integers, see {@link LabelMap#sorted}), so it does not depend on line order. With
 * the training split's map given, a label outside it is an error naming file:line and the label, never a silent drop.
 * Malformed lines go to {@link BadLines} as file:line and the reason.
 */
public final class ClassificationReaders {
  private ClassificationReaders() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /** The names of the text column and the label column (JSON fields, or CSV/TSV header names). */
  public record Columns(String text, String label) {
    public static final Columns DEFAULT = new Columns("text", "label");
  }

  /** Reads a file with the default columns and its own label map. */
  public static TextClassificationDataset read(Path file, BadLines bad) {
    return read(file, Columns.DEFAULT, null, bad);
  }

  /** Reads a file whose labels must all be in {@code trainLabels} (the training split's map). */
  public static TextClassificationDataset read(Path file, LabelMap trainLabels, BadLines bad) {
    return read(file, Columns.DEFAULT, trainLabels, bad);
  }

  /** Reads a file; {@code trainLabels} null = the file's own sorted label map. */
  public static TextClassificationDataset read(Path file, Columns columns, LabelMap trainLabels, BadLines bad) {
    Examples examples = new Examples(file, bad);
    String format = DataFiles.format(file);
    switch (format) {
      case "jsonl", "json" -> readJsonLines(file, columns, examples);
      case "csv" -> readDelimited(file, columns, examples, true);
      case "tsv" -> readDelimited(file, columns, examples, false);
      default -> throw new MtpfException(file + ": unknown classification file format '" + format
          + "' (use .jsonl, .csv or .tsv, optionally .gz)");
    }
    return examples.dataset(datasetName(file), trainLabels);
  }

  /** "emotion/train" for .../emotion/train.jsonl.gz. */
  private static String datasetName(Path file) {
    Path parent = file.toAbsolutePath().getParent();
    String base = DataFiles.baseName(file);
    return parent == null || parent.getFileName() == null ? base : parent.getFileName() + "/" + base;
  }

  private static void readJsonLines(Path file, Columns columns, Examples examples) {
    DataFiles.forEachJsonObject(file, (lineNo, node) -> {
      JsonNode text = node.get(columns.text()), label = node.get(columns.label());
      if (text == null || !text.isTextual()) {
        examples.bad(lineNo, "no string field \"" + columns.text() + "\"");
        return;
      }
      if (label == null || !(label.isTextual() || label.isIntegralNumber())) {
        examples.bad(lineNo, "field \"" + columns.label() + "\" is missing or neither a string nor an integer");
        return;
      }
      examples.add(text.asText(), label.asText(), lineNo);
    }, examples::bad);
  }

  /** CSV (RFC 4180) or TSV with a header; {@code csv} false = split on tabs, no quoting. */
  private static void readDelimited(Path file, Columns columns, Examples examples, boolean csv) {
    CsvRecords records = new CsvRecords();
    List<Row> pending = new ArrayList<>();
    int[][] header = {null};
    DataFiles.forEachLine(file, (lineNo, raw) -> {
      String line = lineNo == 1 ? DataFiles.stripBom(raw) : raw;
      if (csv) {
        String error = records.accept(line, lineNo, pending);
        if (error != null) examples.bad(records.startLine(), error);
      } else if (!line.isBlank()) {
        pending.add(new Row(Arrays.asList(line.split("\t", -1)), lineNo));
      }
      for (Row r : pending) {
        if (header[0] == null) {
          header[0] = headerColumns(file, r, columns);
          continue;
        }
        int need = Math.max(header[0][0], header[0][1]) + 1;
        if (r.fields().size() < need) {
          examples.bad(r.line(), "expected at least " + need + (csv ? " comma" : " tab") + "-separated fields, got " + r.fields().size());
          continue;
        }
        examples.add(r.fields().get(header[0][0]), r.fields().get(header[0][1]), r.line());
      }
      pending.clear();
    });
    if (csv && records.inQuotes()) examples.bad(records.startLine(), "a quoted field is never closed (the file ends inside it)");
    if (header[0] == null) throw new MtpfException(file + ": empty file (expected a header with columns '" + columns.text() + "' and '" + columns.label() + "')");
  }

  private static int[] headerColumns(Path file, Row header, Columns columns) {
    List<String> names = header.fields().stream().map(String::strip).toList();
    int text = names.indexOf(columns.text()), label = names.indexOf(columns.label());
    if (text < 0 || label < 0) {
      throw new MtpfException(file + ":" + header.line() + ": the header " + names + " has no column '"
          + (text < 0 ? columns.text() : columns.label()) + "' (name the text and label columns)");
    }
    return new int[] {text, label};
  }

  /** One CSV/TSV record and the line it starts on. */
  private record Row(List<String> fields, long line) {}

  /** RFC 4180 records from lines; a quoted field may span lines (joined with \n). */
  private static final class CsvRecords {
    private final List<String> fields = new ArrayList<>();
    private final StringBuilder field = new StringBuilder();
    private boolean inQuotes;
    private boolean quotedField;  // the current field was quoted and its closing quote has been seen
    private long startLine;

    boolean inQuotes() {
      return inQuotes;
    }

    long startLine() {
      return startLine;
    }

    /** Feeds one line; completed records go to {@code out}; returns why the record is malformed, or null. */
    String accept(String line, long lineNo, List<Row> out) {
      if (!inQuotes) {
        if (line.isEmpty()) return null;  // a blank line between records
        startLine = lineNo;
      } else {
        field.append('\n');
      }
      for (int i = 0; i < line.length(); i++) {
        char c = line.charAt(i);
        if (inQuotes) {
          if (c != '"') {
            field.append(c);
          } else if (i + 1 < line.length() && line.charAt(i + 1) == '"') {
            field.append('"');
            i++;
          } else {
            inQuotes = false;
            quotedField = true;
          }
        } else if (c == ',') {
          fields.add(field.toString());
          field.setLength(0);
          quotedField = false;
        } else if (quotedField) {
          return reset("text after a closing quote (RFC 4180: a quoted field ends at its closing quote)");
        } else if (c == '"') {
          if (field.length() > 0) return reset("a quote inside an unquoted field (RFC 4180: quote the field and double the quote)");
          inQuotes = true;
        } else {
          field.append(c);
        }
      }
      if (inQuotes) return null;  // the record goes on, on the next line
      fields.add(field.toString());
      out.add(new Row(List.copyOf(fields), startLine));
      fields.clear();
      field.setLength(0);
      quotedField = false;
      return null;
    }

    private String reset(String why) {
      fields.clear();
      field.setLength(0);
      inQuotes = false;
      quotedField = false;
      return why;
    }
  }

  /** Texts and label names as read, with their lines, until the label map is known. */
  private static final class Examples {
    private final Path file;
    private final BadLines bad;
    private final List<String> texts = new ArrayList<>();
    private final List<String> labels = new ArrayList<>();
    private long[] lines = new long[1024];

    Examples(Path file, BadLines bad) {
      this.file = file;
      this.bad = bad;
    }

    void bad(long lineNo, String reason) {
      bad.report(file.toString(), lineNo, reason);
    }

    void add(String text, String label, long lineNo) {
      text = text.strip();
      label = label.strip();
      if (text.isEmpty()) {
        bad(lineNo, "empty text");
        return;
      }
      if (label.isEmpty()) {
        bad(lineNo, "empty label");
        return;
      }
      if (texts.size() == lines.length) lines = Arrays.copyOf(lines, lines.length * 2);
      lines[texts.size()] = lineNo;
      texts.add(text);
      labels.add(label);
    }

    TextClassificationDataset dataset(String name, LabelMap trainLabels) {
      LabelMap map = trainLabels != null ? trainLabels : LabelMap.sorted(labels);
      int[] ids = new int[labels.size()];
      for (int i = 0; i < ids.length; i++) {
        String label = labels.get(i);
        if (!map.contains(label)) {
          throw new MtpfException(file + ":" + lines[i] + ": label '" + label + "' is not in the training split's label map "
              + map.preview());
        }
        ids[i] = map.id(label);
      }
      return new TextClassificationDataset(name, texts, ids, map);
    }
  }
}
