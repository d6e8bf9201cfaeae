package io.mtpf.tokenizer;

import java.util.Arrays;

/** A growable int array (boxing-free), for word boundaries and added-token matches. */
final class IntList {
  private int[] values = new int[16];
  private int size;

  void add(int a, int b) {
    if (size + 2 > values.length) values = Arrays.copyOf(values, values.length * 2);
    values[size++] = a;
    values[size++] = b;
  }

  void add(int a, int b, int c) {
    if (size + 3 > values.length) values = Arrays.copyOf(values, values.length * 2 + 3);
    values[size++] = a;
    values[size++] = b;
    values[size++] = c;
  }

  int get(int i) {
    return values[i];
  }

  int size() {
    return size;
  }

  void clear() {
    size = 0;
  }
}
