package io.mtpf.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mtpf.Encoder;
import io.mtpf.MtpfException;
import io.mtpf.runtime.Adapter;
import io.mtpf.runtime.Backbone;
import io.mtpf.runtime.EmbedOptions;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** mtpf encode: one pooled sentence embedding per text. */
@Command(name = "encode", mixinStandardHelpOptions = true,
    description = "Print one pooled embedding per text (space-separated floats, or JSON).")
final class EncodeCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin EncoderArgs encoderArgs = new EncoderArgs();
  @Mixin EngineArgs engineArgs = new EngineArgs();

  @Option(names = "--adapter", paramLabel = "DIR",
      description = "runtime engine: embed through this LoRA adapter (PEFT folder)") Path adapter;

  @Option(names = "--json", description = "print a JSON array of {text, embedding}")
  boolean json;

  @Option(names = "--normalize", description = "L2-normalise the embeddings")
  boolean normalize;

  @Option(names = "--pooling", defaultValue = "mean", description = "mean (default) or cls")
  String pooling;

  @Option(names = "--prefix", defaultValue = "", description = "text prefix, e.g. 'query: ' for e5")
  String prefix;

  @Parameters(paramLabel = "TEXT", arity = "0..*", description = "texts, or - to read one per line from stdin")
  List<String> texts;

  @Override
  public Integer call() throws Exception {
    List<String> input = Texts.resolve(texts);
    PrintWriter out = spec.commandLine().getOut();
    float[][] vectors = engineArgs.runtime() ? encodeWithRuntime(input) : encodeWithTorch(input);
    if (json) {
      ObjectMapper mapper = new ObjectMapper();
      ArrayNode rows = mapper.createArrayNode();
      for (int i = 0; i < vectors.length; i++) {
        ObjectNode row = rows.addObject();
        row.put("text", input.get(i));
        ArrayNode v = row.putArray("embedding");
        for (float x : vectors[i]) v.add(x);
      }
      out.println(mapper.writeValueAsString(rows));
    } else {
      for (float[] v : vectors) {
        StringBuilder line = new StringBuilder(v.length * 11);
        for (int j = 0; j < v.length; j++) line.append(j == 0 ? "" : " ").append(v[j]);
        out.println(line);
      }
    }
    out.flush();
    return 0;
  }

  private float[][] encodeWithTorch(List<String> input) {
    if (adapter != null) throw new MtpfException("--adapter needs --engine runtime (the torch encoder runs the base model)");
    try (Encoder enc = Encoder.load(encoderArgs.model,
        encoderArgs.options().withPooling(pooling).withNormalize(normalize).withTextPrefix(prefix))) {
      return enc.encode(input);
    }
  }

  private float[][] encodeWithRuntime(List<String> input) {
    encoderArgs.requireCpuFp32();
    EmbedOptions embed = EmbedOptions.defaults().withPooling(pooling).withNormalize(normalize).withTextPrefix(prefix);
    try (Backbone bb = Backbone.load(encoderArgs.model, encoderArgs.runtimeOptions(engineArgs.int8));
        Adapter a = adapter == null ? null : Adapter.load(adapter)) {
      return bb.embed(input, a, embed);
    }
  }
}
