package io.mtpf.cli;

import io.mtpf.MtpfException;
import io.mtpf.tokenizer.TokenizerException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The mtpf command line: {@code ./mtpf --help}. */
@Command(
    name = "mtpf",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Multi-task pre-finetuning of lightweight encoders for NER and text classification.",
    subcommands = {
      QuickstartCommand.class,
      ModelsCommand.class,
      PretrainCommand.class,
      PseudoLabelCommand.class,
      AdaptNerCommand.class,
      EvaluateCommand.class,
      ReportCommand.class,
      TagCommand.class,
      EncodeCommand.class,
      TokenizeCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the CLI and returns its exit code; user errors print one line naming the input and the reason. */
  public static int run(String... args) {
    return configure(new CommandLine(new Main())).execute(args);
  }

  /** Installs the error handling: user errors (MtpfException and kin) print one line and exit 1. */
  static CommandLine configure(CommandLine cli) {
    cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      if (e instanceof MtpfException || e instanceof TokenizerException || e instanceof IllegalArgumentException) {
        commandLine.getErr().println("mtpf: " + e.getMessage());
        return 1;
      }
      throw e;
    });
    return cli;
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"mtpf " + (v == null ? "dev" : v)};
    }
  }
}
