package io.mtpf.cli;

import io.mtpf.models.MavenArtifacts;
import io.mtpf.models.ModelCatalog;
import io.mtpf.models.ModelImportException;
import io.mtpf.models.ModelPuller;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** `mtpf models list|pull`: the encoders mtpf can import, and importing one into a HF model folder. */
@Command(name = "models", mixinStandardHelpOptions = true,
    description = "Import pretrained encoders from Maven Central jars into HF model folders.",
    subcommands = {ModelsCommand.ListModels.class, ModelsCommand.Pull.class})
public final class ModelsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return 2;
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "Print the models `pull` knows.")
  public static final class ListModels implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      for (ModelCatalog.Entry e : ModelCatalog.all()) {
        out.printf("%-18s %-72s %2d layers, hidden %d, %d heads  %s%n", e.name(), e.artifact(),
            e.numHiddenLayers(), e.hiddenSize(), e.numAttentionHeads(), e.description());
      }
      out.flush();
      return 0;
    }
  }

  @Command(name = "pull", mixinStandardHelpOptions = true,
      description = "Import NAME (see `mtpf models list`) into a HF model folder: config.json, model.safetensors,"
          + " tokenizer files and mtpf-import.json.")
  public static final class Pull implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NAME", description = "model name, e.g. bge-small-en-v15")
    String name;

    @Option(names = "--out", paramLabel = "DIR", description = "output folder (default: models/NAME)")
    Path out;

    @Option(names = "--force", description = "rewrite the folder even if a complete one exists")
    boolean force;

    @Option(names = "--offline", description = "use only the local Maven repository, never download")
    boolean offline;

    @Option(names = "--maven-repo", paramLabel = "DIR",
        description = "local Maven repository (default: -Dmaven.repo.local, else ~/.m2/repository)")
    Path mavenRepo;

    @Option(names = "--remote-repo", paramLabel = "URL", defaultValue = MavenArtifacts.CENTRAL,
        description = "remote Maven repository to download from (default: ${DEFAULT-VALUE})")
    URI remoteRepo;

    @Override
    public Integer call() {
      PrintWriter stdout = spec.commandLine().getOut();
      PrintWriter stderr = spec.commandLine().getErr();
      Path dir = out != null ? out : Path.of("models", name);
      try {
        ModelCatalog.Entry entry = ModelCatalog.get(name);
        MavenArtifacts artifacts =
            new MavenArtifacts(mavenRepo != null ? mavenRepo : MavenArtifacts.defaultLocalRepo(), remoteRepo, offline);
        long start = System.nanoTime();
        ModelPuller.Result r = new ModelPuller(artifacts).pull(entry, dir, force);
        if (r.reused()) {
          stdout.printf("%s: %s is already complete; kept (use --force to rewrite)%n", name, dir);
        } else {
          stdout.printf("%s: wrote %s (%,d parameters, %d layers, hidden %d, %d heads) in %.1f s%n", name, dir,
              r.parameterCount(), r.config().numHiddenLayers(), r.config().hiddenSize(),
              r.config().numAttentionHeads(), (System.nanoTime() - start) / 1e9);
        }
        stdout.flush();
        return 0;
      } catch (ModelImportException e) {
        stderr.println("mtpf models pull " + name + ": " + e.getMessage());
        stderr.flush();
        return 1;
      }
    }
  }
}
