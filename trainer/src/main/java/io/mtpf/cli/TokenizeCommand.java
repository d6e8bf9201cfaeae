package io.mtpf.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** mtpf tokenize: token ids and tokens per text, exactly as the encoder sees them. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, description = "Print the token ids and tokens of each text.")
final class TokenizeCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, paramLabel = "DIR", description = "HF model folder (tokenizer.json or vocab.txt)")
  Path model;

  @Option(names = "--json", description = "print a JSON array of {text, ids, tokens, word_ids, offsets}")
  boolean json;

  @Option(names = "--max-length", defaultValue = "512", description = "truncate to this many tokens (default: ${DEFAULT-VALUE})")
  int maxLength;

  @Parameters(paramLabel = "TEXT", arity = "0..*", description = "texts, or - to read one per line from stdin")
  List<String> texts;

  @Override
  public Integer call() throws Exception {
    List<String> input = Texts.resolve(texts);
    WordPieceTokenizer tokenizer = WordPieceTokenizer.fromFolder(model);
    PrintWriter out = spec.commandLine().getOut();
    ObjectMapper mapper = new ObjectMapper();
    ArrayNode rows = mapper.createArrayNode();
    for (String text : input) {
      Encoding e = tokenizer.encode(text, maxLength);
      if (json) {
        ObjectNode row = rows.addObject();
        row.put("text", text);
        ArrayNode ids = row.putArray("ids");
        ArrayNode tokens = row.putArray("tokens");
        ArrayNode words = row.putArray("word_ids");
        ArrayNode offsets = row.putArray("offsets");
        // Encoding's getters return copies: take each array once.
        int[] idArr = e.ids(), wordArr = e.wordIds(), starts = e.charStart(), ends = e.charEnd();
        String[] tokenArr = e.tokens();
        for (int t = 0; t < idArr.length; t++) {
          ids.add(idArr[t]);
          tokens.add(tokenArr[t]);
          words.add(wordArr[t]);
          offsets.addArray().add(starts[t]).add(ends[t]);
        }
      } else {
        StringBuilder ids = new StringBuilder();
        for (int id : e.ids()) ids.append(ids.length() == 0 ? "" : " ").append(id);
        out.println("ids:    " + ids);
        out.println("tokens: " + String.join(" ", e.tokens()));
      }
    }
    if (json) out.println(mapper.writeValueAsString(rows));
    out.flush();
    return 0;
  }
}
