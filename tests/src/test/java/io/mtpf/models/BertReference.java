package io.mtpf.models;

/**
 * A plain-loop BertModel forward pass over imported HF weights (one sequence, no padding), written from the HF
 * BERT definition. Every tensor is looked up by its HF name, so a mis-named or mis-transposed weight shows up as
 * a different last_hidden_state than ONNX Runtime computes from the original graph.
 */
final class BertReference {
  private final BertCheckpoint ckpt;
  private final BertConfig c;

  BertReference(BertCheckpoint ckpt) {
    this.ckpt = ckpt;
    this.c = ckpt.config();
  }

  /** last_hidden_state [seq][hidden] for token ids with token type 0 and no masking. */
  float[][] forward(long[] inputIds) {
    int seq = inputIds.length;
    int h = c.hiddenSize();
    float[][] x = new float[seq][h];
    float[] word = w("embeddings.word_embeddings.weight");
    float[] pos = w("embeddings.position_embeddings.weight");
    float[] type = w("embeddings.token_type_embeddings.weight");
    for (int t = 0; t < seq; t++) {
      for (int j = 0; j < h; j++) x[t][j] = word[(int) inputIds[t] * h + j] + pos[t * h + j] + type[j];
      layerNorm(x[t], "embeddings.LayerNorm");
    }
    for (int layer = 0; layer < c.numHiddenLayers(); layer++) {
      String p = "encoder.layer." + layer + ".";
      float[][] attn = new float[seq][];
      float[][] q = new float[seq][];
      float[][] k = new float[seq][];
      float[][] v = new float[seq][];
      for (int t = 0; t < seq; t++) {
        q[t] = linear(x[t], p + "attention.self.query");
        k[t] = linear(x[t], p + "attention.self.key");
        v[t] = linear(x[t], p + "attention.self.value");
      }
      int heads = c.numAttentionHeads();
      int d = h / heads;
      for (int t = 0; t < seq; t++) {
        float[] ctx = new float[h];
        for (int head = 0; head < heads; head++) {
          double[] scores = new double[seq];
          double max = Double.NEGATIVE_INFINITY;
          for (int s = 0; s < seq; s++) {
            double dot = 0;
            for (int j = 0; j < d; j++) dot += q[t][head * d + j] * k[s][head * d + j];
            scores[s] = dot / Math.sqrt(d);
            max = Math.max(max, scores[s]);
          }
          double sum = 0;
          for (int s = 0; s < seq; s++) sum += scores[s] = Math.exp(scores[s] - max);
          for (int s = 0; s < seq; s++) {
            for (int j = 0; j < d; j++) ctx[head * d + j] += (float) (scores[s] / sum) * v[s][head * d + j];
          }
        }
        attn[t] = linear(ctx, p + "attention.output.dense");
        for (int j = 0; j < h; j++) attn[t][j] += x[t][j];
        layerNorm(attn[t], p + "attention.output.LayerNorm");
      }
      for (int t = 0; t < seq; t++) {
        float[] inter = linear(attn[t], p + "intermediate.dense");
        for (int j = 0; j < inter.length; j++) inter[j] = (float) gelu(inter[j]);
        float[] out = linear(inter, p + "output.dense");
        for (int j = 0; j < h; j++) out[j] += attn[t][j];
        layerNorm(out, p + "output.LayerNorm");
        x[t] = out;
      }
    }
    return x;
  }

  private float[] w(String name) {
    return ckpt.tensor(name).data();
  }

  /** torch.nn.Linear: y = x W^T + b, W stored [out, in]. */
  private float[] linear(float[] in, String name) {
    float[] weight = w(name + ".weight");
    float[] bias = w(name + ".bias");
    float[] y = new float[bias.length];
    for (int o = 0; o < y.length; o++) {
      double acc = bias[o];
      for (int i = 0; i < in.length; i++) acc += weight[o * in.length + i] * in[i];
      y[o] = (float) acc;
    }
    return y;
  }

  private void layerNorm(float[] x, String name) {
    float[] gamma = w(name + ".weight");
    float[] beta = w(name + ".bias");
    double mean = 0;
    for (float f : x) mean += f;
    mean /= x.length;
    double var = 0;
    for (float f : x) var += (f - mean) * (f - mean);
    var /= x.length;
    double inv = 1 / Math.sqrt(var + c.layerNormEps());
    for (int j = 0; j < x.length; j++) x[j] = (float) ((x[j] - mean) * inv * gamma[j] + beta[j]);
  }

  /** HF "gelu": the exact x * Phi(x). */
  static double gelu(double x) {
    return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
  }

  /** erf to ~1e-7 (Abramowitz and Stegun 7.1.26), far below the fp32 tolerance of the comparison. */
  static double erf(double x) {
    double t = 1 / (1 + 0.3275911 * Math.abs(x));
    double y = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
        * Math.exp(-x * x);
    return x >= 0 ? y : -y;
  }
}
