package io.mtpf.data;

import java.util.List;

/**
 * A text-classification split in memory: texts, each with one label id in {@link #labelMap()}. Read it with
 * {@link ClassificationReaders}; read the test split with the training split's map.
 */
public final class TextClassificationDataset {
  private final String name;
  private final List<String> texts;
  private final int[] labelIds;
  private final LabelMap labelMap;

  public TextClassificationDataset(String name, List<String> texts, int[] labelIds, LabelMap labelMap) {
    if (texts.size() != labelIds.length) throw new IllegalArgumentException(texts.size() + " texts but " + labelIds.length + " labels");
    for (int id : labelIds) {
      if (id < 0 || id >= labelMap.size()) throw new IllegalArgumentException("label id " + id + " outside the label map of " + labelMap.size());
    }
    this.name = name;
    this.texts = List.copyOf(texts);
    this.labelIds = labelIds.clone();
    this.labelMap = labelMap;
  }

  public String name() {
    return name;
  }

  public int size() {
    return texts.size();
  }

  public List<String> texts() {
    return texts;
  }

  public String text(int i) {
    return texts.get(i);
  }

  public int labelId(int i) {
    return labelIds[i];
  }

  public String labelName(int i) {
    return labelMap.name(labelIds[i]);
  }

  /** A copy of all label ids, in example order. */
  public int[] labelIds() {
    return labelIds.clone();
  }

  public LabelMap labelMap() {
    return labelMap;
  }

  /** How many examples carry each label id. */
  public int[] countsByLabel() {
    int[] counts = new int[labelMap.size()];
    for (int id : labelIds) counts[id]++;
    return counts;
  }

  @Override
  public String toString() {
    return name + ": " + size() + " texts, " + labelMap.size() + " labels";
  }
}
