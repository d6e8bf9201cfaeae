package io.mtpf.cli;

import io.mtpf.MtpfException;
import picocli.CommandLine.Option;

/** --engine and --int8: which inference engine runs encode and tag. */
final class EngineArgs {
  @Option(names = "--engine", defaultValue = "torch", paramLabel = "torch|runtime",
      description = "torch (default: the libtorch core, as before) or runtime (mtpf's libtorch-free CPU runtime, the "
          + "one on Android; CPU and fp32 or --int8)")
  String engine;

  @Option(names = "--int8", description = "runtime engine: int8 linear weights (about half the memory; slightly less exact)")
  boolean int8;

  boolean runtime() {
    if (!"torch".equals(engine) && !"runtime".equals(engine))
      throw new MtpfException("--engine must be torch or runtime, got '" + engine + "'");
    if (int8 && !"runtime".equals(engine)) throw new MtpfException("--int8 needs --engine runtime");
    return "runtime".equals(engine);
  }
}
