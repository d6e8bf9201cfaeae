package io.mtpf.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mtpf.MtpfException;
import io.mtpf.NativeCore;
import io.mtpf.eval.EntityTagger;
import io.mtpf.runtime.Adapter;
import io.mtpf.runtime.Backbone;
import io.mtpf.runtime.BackboneOptions;
import io.mtpf.runtime.Entity;
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

/** mtpf tag: entities with character offsets, from a backbone and an adapter written by `mtpf adapt-ner --out`. */
@Command(name = "tag", mixinStandardHelpOptions = true,
    description = "Print the entities of each text (type, start, end, text) using an adapted NER adapter.")
final class TagCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, paramLabel = "DIR", description = "backbone (HF folder)") Path model;

  @Option(names = "--adapter", required = true, paramLabel = "DIR",
      description = "adapted NER adapter (adapter_config.json, head_ner, labels.json)") Path adapter;

  @Option(names = "--json", description = "print a JSON array of {text, entities: [{type, start, end, text, score}]}")
  boolean json;

  @Option(names = "--max-length", defaultValue = "128", description = "truncate to this many tokens (default: ${DEFAULT-VALUE})")
  int maxLength;

  @Option(names = "--threads", defaultValue = "0", description = "inference threads (default: all cores)")
  int threads;

  @Mixin EngineArgs engineArgs = new EngineArgs();

  @Parameters(paramLabel = "TEXT", arity = "0..*", description = "texts, or - to read one per line from stdin")
  List<String> texts;

  @Override
  public Integer call() throws Exception {
    List<String> input = Texts.resolve(texts);
    if (threads < 0) throw new MtpfException("--threads must be >= 0, got " + threads);
    PrintWriter out = spec.commandLine().getOut();
    List<List<Entity>> all = engineArgs.runtime() ? tagWithRuntime(input) : tagWithTorch(input);
    ObjectMapper mapper = new ObjectMapper();
    ArrayNode rows = mapper.createArrayNode();
    for (int i = 0; i < input.size(); i++) {
      if (json) {
        ObjectNode row = rows.addObject();
        row.put("text", input.get(i));
        ArrayNode ents = row.putArray("entities");
        for (Entity e : all.get(i)) {
          ObjectNode o = ents.addObject().put("type", e.type()).put("start", e.start()).put("end", e.end()).put("text", e.text());
          if (!Double.isNaN(e.score())) o.put("score", e.score());
        }
      } else {
        out.println(input.get(i));
        for (Entity e : all.get(i)) out.printf("  %s\t%d\t%d\t%s%n", e.type(), e.start(), e.end(), e.text());
      }
    }
    if (json) out.println(mapper.writeValueAsString(rows));
    out.flush();
    return 0;
  }

  private List<List<Entity>> tagWithRuntime(List<String> input) {
    BackboneOptions options = BackboneOptions.defaults().withMaxLength(maxLength).withThreads(threads).withInt8(engineArgs.int8);
    try (Backbone bb = Backbone.load(model, options); Adapter a = Adapter.load(adapter)) {
      return bb.tag(input, a);
    }
  }

  /** The libtorch core's tagger (an Encoder with the adapter loaded by name), scored as the runtime scores. */
  private List<List<Entity>> tagWithTorch(List<String> input) {
    if (threads > 0) NativeCore.setThreads(threads);
    try (EntityTagger tagger = EntityTagger.load(model, adapter, maxLength)) {
      return tagger.tag(input);
    }
  }
}
