package io.mtpf.eval;

import io.mtpf.data.BioTags;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.MtpfException;
import io.mtpf.data.BadLines;
import io.mtpf.data.ClassificationReaders;
import io.mtpf.data.DataFiles;
import io.mtpf.data.NerDataset;
import io.mtpf.data.NerReaders;
import io.mtpf.data.TextClassificationDataset;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The paper's 21 downstream datasets (§3) by name, and a user's own ones: which family (NER or text
 * classification), which folder under the data directory ({@code --data}, e.g. {@code ../shared/data}), which files
 * make each split, and with which protocol settings they are evaluated. {@link #resolve} looks for them on disk: a
 * dataset whose files are missing is {@link Resolved#absent absent} with the reason, so that runs and tables list
 * it instead of dropping it.
 *
 * <p>A split is named by base names (no format suffix, no .gz): the file found is the one with that base name and a
 * suffix the family's readers take ({@code .txt .conll .bio .iob .tsv .jsonl}, {@code _conll} for NER;
 * {@code .jsonl .csv .tsv} for classification), plain or gzip. Several names joined are read as one split (MIT
 * Restaurant's test comes in two parts). CrossNER is its five domains (ai, literature, music, politics, science) read
 * as one dataset over the union of their entity types, as the paper counts it (39 types). NER without a dev split
 * takes the last epoch (Appendix A). Classification settings come from {@link MtebTasks}.
 */
public final class DownstreamDatasets {
  private DownstreamDatasets() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  public enum Family {
    NER, TC;

    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** One split: the files (base names, relative to the dataset's folder) read one after the other. */
  public record Split(List<String> files) {
    public Split {
      files = List.copyOf(files);
    }

    static Split of(String... files) {
      return new Split(List.of(files));
    }
  }

  /**
   * A dataset. {@code folders} are under the data directory (CrossNER has five); {@code devAlternatives} lists the
   * dev split's base names in the order they are tried (empty: no dev split); {@code task} is the MTEB task of a
   * classification dataset (null for NER).
   */
  public record Dataset(String name, String abbreviation, Family family, List<String> folders, Split train,
                        List<Split> devAlternatives, Split test, MtebTasks.Task task, String note) {
    public Dataset {
      folders = List.copyOf(folders);
      devAlternatives = List.copyOf(devAlternatives);
    }

    public boolean matches(String query) {
      String q = query.toLowerCase(Locale.ROOT).replace(" ", "").replace("-", "").replace("_", "");
      List<String> names = new ArrayList<>(List.of(name, abbreviation));
      names.addAll(folders);
      if (task != null) names.addAll(List.of(task.mtebName(), task.mtebName().split(" ")[0]));
      return names.stream().anyMatch(n -> n.toLowerCase(Locale.ROOT).replace(" ", "").replace("-", "").replace("_", "")
          .replace(".", "").equals(q.replace(".", "")));
    }
  }

  private static final List<Split> NER_DEV = List.of(Split.of("dev"), Split.of("validation"), Split.of("valid"),
      Split.of("development"));
  private static final List<String> CROSSNER_DOMAINS = List.of("ai", "literature", "music", "politics", "science");

  /** The paper's NER sets, in its column order (Table 5). */
  public static final List<Dataset> NER = List.of(
      new Dataset("CoNLL-2003", "CoNLL", Family.NER, List.of("conll2003"), Split.of("train"), NER_DEV, Split.of("test"),
          null, "4 types; dev selects the epoch"),
      new Dataset("OntoNotes5", "OntoNotes5", Family.NER, List.of("ontonotes5"), Split.of("train"), NER_DEV,
          Split.of("test"), null,
          "18 types; LDC-licensed, not redistributable: put train/dev/test (CoNLL-2012 *_conll, columns or JSONL) in "
              + "<data>/ontonotes5"),
      new Dataset("MIT Restaurant", "MIT Restaurant", Family.NER, List.of("mit_restaurant"), Split.of("train"),
          List.of(), Split.of("test_part_a", "test_part_b"), null,
          "8 types; test = the original test file in two parts; no dev split: the last epoch is taken"),
      new Dataset("BioNLP", "BioNLP", Family.NER, List.of("jnlpba"), Split.of("train"), NER_DEV, Split.of("test"), null,
          "JNLPBA 2004, 5 types; no dev split in the original: the last epoch is taken"),
      new Dataset("CrossNER", "CrossNER", Family.NER, CROSSNER_DOMAINS.stream().map(d -> "crossner_" + d).toList(),
          Split.of("train"), NER_DEV, Split.of("test"), null,
          "5 domains (ai, literature, music, politics, science) read as one dataset over the union of their types"));

  /** The paper's classification sets (Table 6 order), one per {@link MtebTasks} task. */
  public static final List<Dataset> TC = MtebTasks.ALL.stream()
      .map(t -> new Dataset(t.paperName(), t.abbreviation(), Family.TC, List.of(t.folder()), Split.of(t.trainFile()),
          List.of(), Split.of(t.evalFile()), t, t.note()))
      .toList();

  /** All 21, NER first. */
  public static final List<Dataset> ALL = Stream.concat(NER.stream(), TC.stream()).toList();

  public static Optional<Dataset> byName(String name) {
    return ALL.stream().filter(d -> d.matches(name)).findFirst();
  }

  public static List<Dataset> of(Family family) {
    return family == Family.NER ? NER : TC;
  }

  /**
   * A dataset looked up on disk: the files of each split (dev empty when there is none), or the reason it is absent.
   * {@code source} is "paper" or "user".
   */
  public record Resolved(Dataset dataset, String source, List<Path> train, List<Path> dev, List<Path> test,
                         String absentReason) {
    public Resolved {
      train = List.copyOf(train);
      dev = List.copyOf(dev);
      test = List.copyOf(test);
    }

    public boolean present() {
      return absentReason == null;
    }

    /** "present", or "absent: reason". */
    public String status() {
      return present() ? "present" : "absent: " + absentReason;
    }

    static Resolved absent(Dataset d, String source, String reason) {
      return new Resolved(d, source, List.of(), List.of(), List.of(), reason);
    }

    /** The split files by role, for results.json. */
    public Map<String, List<String>> files() {
      Map<String, List<String>> m = new LinkedHashMap<>();
      m.put("train", train.stream().map(Path::toString).toList());
      if (!dev.isEmpty()) m.put("dev", dev.stream().map(Path::toString).toList());
      m.put("test", test.stream().map(Path::toString).toList());
      return m;
    }

    /** The NER train split (several files concatenated under the first one's label map union). */
    public NerDataset readNerTrain(BadLines bad) {
      return readNer(train, null, bad);
    }

    public NerDataset readNer(List<Path> files, io.mtpf.data.LabelMap trainLabels, BadLines bad) {
      if (files.isEmpty()) return null;
      if (trainLabels == null && files.size() > 1) {
        // The union of the files' types: read each alone, then again under the union's map.
        java.util.TreeSet<String> types = new java.util.TreeSet<>();
        for (Path f : files) {
          for (String tag : NerReaders.read(f, bad).labels().names()) if (tag.startsWith("B-")) types.add(tag.substring(2));
        }
        trainLabels = NerDataset.tagMap(types);
      }
      List<NerDataset.Sentence> sentences = new ArrayList<>();
      NerDataset first = null;
      for (Path f : files) {
        NerDataset part = NerReaders.read(f, trainLabels, bad);
        if (first == null) first = part;
        sentences.addAll(part.sentences());
      }
      return new NerDataset(dataset.name() + "/" + DataFiles.baseName(files.get(0)), sentences, first.labels(),
          first.sourceScheme());
    }

    public TextClassificationDataset readTc(List<Path> files, io.mtpf.data.LabelMap trainLabels, BadLines bad) {
      if (files.size() != 1)
        throw new MtpfException(dataset.name() + ": a classification split must be one file, got " + files);
      return ClassificationReaders.read(files.get(0), trainLabels, bad);
    }
  }

  /** Looks for a paper dataset under {@code dataDir} (null: absent, no data directory given). */
  public static Resolved resolve(Dataset d, Path dataDir) {
    if (dataDir == null) return Resolved.absent(d, "paper", "no --data directory given");
    List<Path> train = new ArrayList<>(), dev = new ArrayList<>(), test = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    for (String folder : d.folders()) {
      Path dir = dataDir.resolve(folder);
      if (!Files.isDirectory(dir)) {
        missing.add(folder + "/");
        continue;
      }
      String why = addSplit(dir, d.train(), d.family(), train);
      if (why == null) why = addSplit(dir, d.test(), d.family(), test);
      if (why != null) {
        missing.add(why);
        continue;
      }
      for (Split alt : d.devAlternatives()) {
        List<Path> found = new ArrayList<>();
        if (addSplit(dir, alt, d.family(), found) == null) {
          dev.addAll(found);
          break;
        }
      }
    }
    if (!missing.isEmpty()) {
      String note = d.name().equals("OntoNotes5") ? " (LDC-licensed; add a copy under " + dataDir.resolve("ontonotes5") + ")" : "";
      return Resolved.absent(d, "paper", "not found under " + dataDir + ": " + String.join(", ", missing) + note);
    }
    // A dev split must exist for every folder of a multi-folder set, else none is used.
    if (d.folders().size() > 1 && dev.size() != d.folders().size()) dev.clear();
    return new Resolved(d, "paper", train, dev, test, null);
  }

  /** Adds a split's files found in dir; returns what is missing ("folder/base.*"), or null. */
  private static String addSplit(Path dir, Split split, Family family, List<Path> out) {
    List<Path> found = new ArrayList<>();
    for (String base : split.files()) {
      Path f = find(dir, base, family);
      if (f == null) return dir.getFileName() + "/" + base + ".*";
      found.add(f);
    }
    out.addAll(found);
    return null;
  }

  private static final List<String> NER_SUFFIXES = List.of(".txt", ".conll", ".bio", ".iob", ".iob2", ".tsv", ".jsonl", "_conll");
  private static final List<String> TC_SUFFIXES = List.of(".jsonl", ".csv", ".tsv");

  /** The file {@code base + suffix [+ .gz]} in dir, or null. */
  static Path find(Path dir, String base, Family family) {
    for (String suffix : family == Family.NER ? NER_SUFFIXES : TC_SUFFIXES) {
      for (String gz : List.of(".gz", "")) {
        Path f = dir.resolve(base + suffix + gz);
        if (Files.isRegularFile(f)) return f;
      }
    }
    return null;
  }

  /**
   * A user's dataset from {@code NAME=PATH} or {@code NAME=PATH:ner|tc}: PATH is a folder with a train split, a test
   * split and optionally a dev split (dev / validation / valid / development), or a single classification file that
   * MTEB's way is both sampled from and scored (as FinancialPhrasebank). The family, when not given, is detected
   * from the train file: CoNLL columns or JSON lines with tokens and tags are NER; text/label JSON lines, CSV or TSV
   * with a header are classification.
   */
  public static Resolved user(String spec) {
    int eq = spec.indexOf('=');
    if (eq <= 0 || eq == spec.length() - 1)
      throw new MtpfException("--dataset '" + spec + "': expected NAME=PATH or NAME=PATH:ner|tc");
    String name = spec.substring(0, eq).strip();
    String pathText = spec.substring(eq + 1);
    Family given = null;
    String lower = pathText.toLowerCase(Locale.ROOT);
    if (lower.endsWith(":ner") || lower.endsWith(":tc")) {
      int colon = pathText.lastIndexOf(':');
      given = Family.valueOf(pathText.substring(colon + 1).toUpperCase(Locale.ROOT));
      pathText = pathText.substring(0, colon);
    }
    Path path = Path.of(pathText);
    if (!Files.exists(path)) throw new MtpfException("--dataset " + name + ": " + path + " does not exist");
    if (Files.isRegularFile(path)) {
      Family f = given != null ? given : detect(path);
      if (f != Family.TC)
        throw new MtpfException("--dataset " + name + ": " + path + " is one NER file; give a folder with train and "
            + "test files (and optionally dev)");
      Dataset d = userDataset(name, Family.TC, path.toAbsolutePath().getParent(), DataFiles.baseName(path),
          DataFiles.baseName(path), List.of());
      return new Resolved(d, "user", List.of(path), List.of(), List.of(path), null);
    }
    List<String> tried = new ArrayList<>();
    for (Family f : given != null ? List.of(given) : List.of(Family.NER, Family.TC)) {
      Path train = find(path, "train", f);
      Path test = find(path, "test", f);
      if (train == null || test == null) {
        tried.add(f.label() + ": " + (train == null ? "no train.*" : "no test.*"));
        continue;
      }
      Family detected = given != null ? given : detect(train);
      if (given == null && detected != f) {
        // train.tsv is both a CoNLL and a classification suffix: the content decides.
        train = find(path, "train", detected);
        test = find(path, "test", detected);
        if (train == null || test == null) continue;
      }
      Path dev = null;
      for (Split alt : NER_DEV) if (dev == null) dev = find(path, alt.files().get(0), detected);
      Dataset d = userDataset(name, detected, path, "train", "test",
          dev == null ? List.of() : List.of(Split.of(DataFiles.baseName(dev))));
      return new Resolved(d, "user", List.of(train), dev == null || detected == Family.TC ? List.of() : List.of(dev),
          List.of(test), null);
    }
    throw new MtpfException("--dataset " + name + ": " + path + " has no train and test files of a supported format ("
        + String.join("; ", tried) + "; NER: " + String.join(" ", NER_SUFFIXES) + ", classification: "
        + String.join(" ", TC_SUFFIXES) + ", each optionally .gz)");
  }

  private static Dataset userDataset(String name, Family family, Path folder, String train, String test,
                                     List<Split> dev) {
    MtebTasks.Task task = family == Family.TC
        ? new MtebTasks.Task(name, name, name, folder.toString(), train, test, MtebClassification.SAMPLES_PER_LABEL,
            MtebClassification.EXPERIMENTS, 0, 0, false, false, "user dataset: MTEB's defaults")
        : null;
    return new Dataset(name, name, family, List.of(folder.toString()), Split.of(train), dev, Split.of(test), task,
        "user dataset " + folder);
  }

  /**
   * The family of a data file from its content: JSON lines with "tokens" are NER, with "text" and "label"
   * classification; CSV is classification; TSV / text with a header naming text and label columns is
   * classification, lines of "token label" columns with BIO tags (or "#begin document") are NER.
   */
  public static Family detect(Path file) {
    String format = DataFiles.format(file);
    List<String> lines = new ArrayList<>();
    try (BufferedReader in = DataFiles.open(file)) {
      for (String line; lines.size() < 50 && (line = in.readLine()) != null; ) {
        if (!line.isBlank()) lines.add(lines.isEmpty() ? DataFiles.stripBom(line) : line);
      }
    } catch (IOException e) {
      throw new MtpfException(file + ": cannot read to detect its format (" + e.getMessage() + ")", e);
    }
    if (lines.isEmpty()) throw new MtpfException(file + ": empty file, cannot detect NER or classification");
    if (format.equals("jsonl") || format.equals("json") || lines.get(0).startsWith("{")) {
      JsonNode first;
      try {
        first = JSON.readTree(lines.get(0));
      } catch (IOException e) {
        throw new MtpfException(file + ":1: not JSON, cannot detect NER or classification");
      }
      if (first != null && first.has("tokens") && (first.has("ner_tags") || first.has("tags"))) return Family.NER;
      if (first != null && first.has("text") && first.has("label")) return Family.TC;
      throw new MtpfException(file + ":1: JSON lines with neither tokens + ner_tags/tags (NER) nor text + label "
          + "(classification)");
    }
    if (format.equals("csv")) return Family.TC;
    if (lines.get(0).startsWith("#begin document") || file.getFileName().toString().matches(".*_conll(\\.gz)?"))
      return Family.NER;
    List<String> header = List.of(lines.get(0).split("\t"));
    if (header.stream().map(String::strip).toList().containsAll(List.of("text", "label"))) return Family.TC;
    int tagged = 0, rows = 0;
    for (String line : lines) {
      if (line.strip().equals("-DOCSTART-") || line.startsWith("-DOCSTART-")) continue;
      String[] cols = line.indexOf('\t') >= 0 ? line.split("\t") : line.strip().split("\\s+");
      rows++;
      if (cols.length >= 2 && BioTags.whyInvalid(cols[cols.length - 1].strip()) == null) tagged++;
    }
    if (rows > 0 && tagged == rows) return Family.NER;
    throw new MtpfException(file + ": cannot tell NER from classification (not token/BIO-tag columns, no header with "
        + "text and label columns); name the family with NAME=PATH:ner or NAME=PATH:tc");
  }
}
