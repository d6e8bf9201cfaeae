package io.mtpf.eval;

import java.util.List;
import java.util.Optional;

/**
 * The paper's 16 MTEB classification tasks (§3) with the settings MTEB gives them, in one table.
 *
 * <p>Settings follow mteb 1.x's task files (embeddings-benchmark/mteb, mteb/tasks/Classification/...): n_experiments
 * 10 and samples_per_label 8 unless the task sets them; test splits subsampled to 2048 rows where the task's
 * {@code dataset_transform} calls {@code stratified_subsampling} (HF datasets' stratified train_test_split with seed
 * 42; {@link DownstreamDatasets} draws its own seeded stratified subsample, not HF's rows). Every task has a
 * folder name under the data directory; {@code ../shared/data} holds 8 of them ({@link Task#inSharedData}), the
 * others are found there when a user adds them and listed as absent otherwise.
 */
public final class MtebTasks {
  private MtebTasks() {}

  /** The mteb release line the table follows. */
  public static final String MTEB_VERSION = "mteb 1.x (AbsTaskClassification + logRegClassificationEvaluator)";

  /**
   * One task.
   *
   * @param paperName as the paper lists it
   * @param abbreviation the paper's column header (Tables 6, 8, 10)
   * @param mtebName the MTEB task name
   * @param folder the folder a local copy lives in under the data directory (for tasks absent from
   *     {@code ../shared/data}, the name {@link DownstreamDatasets} looks for)
   * @param trainFile base name (without format suffix and .gz) of the file the training rows come from
   * @param evalFile base name of the file scored (FinancialPhrasebank: its only split, which MTEB both samples from
   *     and evaluates on)
   * @param trainSubsample MTEB's stratified train subsample size, 0 for the whole split
   * @param testSubsample MTEB's stratified test subsample size, 0 for the whole split
   * @param subsampleLocalTest whether the local copy's test split is subsampled to testSubsample (false where the
   *     copy is already MTEB's subset, or another release)
   * @param inSharedData whether {@code ../shared/data} holds the task
   * @param note how the data here or MTEB's handling differs
   */
  public record Task(String paperName, String abbreviation, String mtebName, String folder, String trainFile,
                     String evalFile, int samplesPerLabel, int experiments, int trainSubsample, int testSubsample,
                     boolean subsampleLocalTest, boolean inSharedData, String note) {
    public boolean availableHere() {
      return inSharedData;
    }
  }

  private static Task present(String paper, String abbreviation, String mteb, String folder, String train, String eval,
                              int samples, int testSubsample, boolean subsampleLocalTest, String note) {
    return new Task(paper, abbreviation, mteb, folder, train, eval, samples, MtebClassification.EXPERIMENTS, 0,
        testSubsample, subsampleLocalTest, true, note);
  }

  private static Task absent(String paper, String abbreviation, String mteb, String folder, int samples,
                             int trainSubsample, int testSubsample, String note) {
    return new Task(paper, abbreviation, mteb, folder, "train", "test", samples, MtebClassification.EXPERIMENTS,
        trainSubsample, testSubsample, true, false, note);
  }

  /** The paper's order. */
  public static final List<Task> ALL = List.of(
      present("Banking77", "Bank.", "Banking77Classification", "banking77", "train", "test", 8, 0, false,
          "77 intents; the original release MTEB uses"),
      present("Emotion", "Emo.", "EmotionClassification", "emotion", "train", "test", 16, 0, false,
          "6 labels; MTEB's split sizes"),
      present("AmazonCounterfactual", "ACF", "AmazonCounterfactualClassification (en)", "amazon_counterfactual_en",
          "train", "test", 32, 0, false, "binary (1 = counterfactual): average precision reported"),
      present("MassiveIntent", "MI", "MassiveIntentClassification (en)", "massive_intent_en", "train", "test", 8, 0,
          false, "60 intents in train, 59 in test"),
      present("TweetSentiment", "TS", "TweetSentimentExtractionClassification", "tweet_sentiment_extraction",
          "train", "test", 32, 0, false, "train here is one row short of Kaggle's 27,481"),
      present("ToxicChat", "TC", "ToxicChatClassification", "toxic_chat_human", "train", "test", 8, 2048, false,
          "MTEB: toxicchat0124, test subsampled to 2048 then kept human-annotated rows (about 1,427); here the "
              + "human-annotated subset of another release, test not subsampled"),
      present("News", "News", "NewsClassification", "ag_news", "train_subset", "test", 8, 0, false,
          "AG News; train here is an 8,000-row subset without titles"),
      absent("Patent", "Patent", "PatentClassification", "patent", 8, 0, 2048, ""),
      present("FinancialPhrasebank", "FPB", "FinancialPhrasebankClassification", "financial_phrasebank",
          "sentences_allagree", "sentences_allagree", 8, 0, false,
          "sentences_allagree, evaluated on its own train split as MTEB does; early mteb 1.x used 128 per label"),
      absent("FrenkEn", "FE", "FrenkEnClassification", "frenk_en", 8, 0, 0, ""),
      absent("IMDB", "Imdb", "ImdbClassification", "imdb", 8, 0, 0, "25,000 test reviews"),
      absent("ArXiv", "Arxiv", "ArxivClassification", "arxiv", 8, 0, 2048, "test of 2048 rows in MTEB's metadata"),
      absent("DBpedia", "DB.", "DBpediaClassification", "dbpedia", 8, 2048, 2048, "MTEB subsamples train to 2048 as well"),
      absent("TweetTopicSingle", "TTS.", "TweetTopicSingleClassification", "tweet_topic_single", 8, 0, 0,
          "train_2021 / test_2021 splits"),
      absent("YelpReviewFull", "YRF", "YelpReviewFullClassification", "yelp_review_full", 128, 0, 2048, ""),
      absent("ToxicConversations", "TCon.", "ToxicConversationsClassification", "toxic_conversations", 16, 0, 2048,
          ""));

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
