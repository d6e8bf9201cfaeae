package io.mtpf.eval;

import java.util.List;
import java.util.Optional;

/**
 * The paper's 16 MTEB classification tasks (§3) with the settings MTEB gives them, in one table.
 *
 * <p>Settings follow mteb 1.x's task files (embeddings-benchmark/mteb, mteb/tasks/Classification/...): n_experiments
 * 10 and samples_per_label 8 unless the task sets them; test splits subsampled to 2048 rows where the task's
 * {@code dataset_transform} calls {@code stratified_subsampling} (HF datasets' stratified train_test_split with seed
 * 42, not reproduced here: give {@link MtebClassification} the subsample). Datasets are folders of the shared data
 * directory ({@code ../shared/data}); tasks without one are listed with a null dataset, absent here.
 */
public final class MtebTasks {
  private MtebTasks() {}

  /** The mteb release line the table follows. */
  public static final String MTEB_VERSION = "mteb 1.x (AbsTaskClassification + logRegClassificationEvaluator)";

  /**
   * One task.
   *
   * @param paperName as the paper lists it
   * @param mtebName the MTEB task name
   * @param dataset folder in the shared data directory, or null where it is absent here
   * @param trainFile file in that folder the training rows come from
   * @param evalFile file in that folder scored (FinancialPhrasebank: its only split, which MTEB both samples from
   *     and evaluates on)
   * @param testSubsample MTEB's stratified test subsample size, 0 for the whole split
   * @param note how the data here or MTEB's handling differs
   */
  public record Task(String paperName, String mtebName, String dataset, String trainFile, String evalFile,
                     int samplesPerLabel, int experiments, int testSubsample, String note) {
    public boolean availableHere() {
      return dataset != null;
    }
  }

  private static Task present(String paper, String mteb, String dataset, String train, String eval, int samples,
                              int testSubsample, String note) {
    return new Task(paper, mteb, dataset, train, eval, samples, MtebClassification.EXPERIMENTS, testSubsample, note);
  }

  private static Task absent(String paper, String mteb, int samples, int testSubsample, String note) {
    return new Task(paper, mteb, null, null, null, samples, MtebClassification.EXPERIMENTS, testSubsample, note);
  }

  /** The paper's order. */
  public static final List<Task> ALL = List.of(
      present("Banking77", "Banking77Classification", "banking77", "train.jsonl.gz", "test.jsonl.gz", 8, 0,
          "77 intents; the original release MTEB uses"),
      present("Emotion", "EmotionClassification", "emotion", "train.jsonl.gz", "test.jsonl.gz", 16, 0,
          "6 labels; MTEB's split sizes"),
      present("AmazonCounterfactual", "AmazonCounterfactualClassification (en)", "amazon_counterfactual_en",
          "train.jsonl.gz", "test.jsonl.gz", 32, 0, "binary (1 = counterfactual): average precision reported"),
      present("MassiveIntent", "MassiveIntentClassification (en)", "massive_intent_en", "train.jsonl.gz",
          "test.jsonl.gz", 8, 0, "60 intents in train, 59 in test"),
      present("TweetSentiment", "TweetSentimentExtractionClassification", "tweet_sentiment_extraction",
          "train.jsonl.gz", "test.jsonl.gz", 32, 0, "train here is one row short of Kaggle's 27,481"),
      present("ToxicChat", "ToxicChatClassification", "toxic_chat_human", "train.jsonl.gz", "test.jsonl.gz", 8, 2048,
          "MTEB: toxicchat0124, test subsampled to 2048 then kept human-annotated rows (about 1,427); here the "
              + "human-annotated subset of another release, test not subsampled"),
      present("News", "NewsClassification", "ag_news", "train_subset.jsonl.gz", "test.jsonl.gz", 8, 0,
          "AG News; train here is an 8,000-row subset without titles"),
      absent("Patent", "PatentClassification", 8, 2048, ""),
      present("FinancialPhrasebank", "FinancialPhrasebankClassification", "financial_phrasebank",
          "sentences_allagree.jsonl.gz", "sentences_allagree.jsonl.gz", 8, 0,
          "sentences_allagree, evaluated on its own train split as MTEB does; early mteb 1.x used 128 per label"),
      absent("FrenkEn", "FrenkEnClassification", 8, 0, ""),
      absent("IMDB", "ImdbClassification", 8, 0, "25,000 test reviews"),
      absent("ArXiv", "ArxivClassification", 8, 2048, "test of 2048 rows in MTEB's metadata"),
      absent("DBpedia", "DBpediaClassification", 8, 2048, "MTEB subsamples train to 2048 as well"),
      absent("TweetTopicSingle", "TweetTopicSingleClassification", 8, 0, "train_2021 / test_2021 splits"),
      absent("YelpReviewFull", "YelpReviewFullClassification", 128, 2048, ""),
      absent("ToxicConversations", "ToxicConversationsClassification", 16, 2048, ""));

  /** By paper name or MTEB name, ignoring case. */
  public static Optional<Task> byName(String name) {
    return ALL.stream()
        .filter(t -> t.paperName().equalsIgnoreCase(name) || t.mtebName().equalsIgnoreCase(name)
            || t.mtebName().split(" ")[0].equalsIgnoreCase(name))
        .findFirst();
  }

  public static List<Task> availableHere() {
    return ALL.stream().filter(Task::availableHere).toList();
  }
}
