package io.mtpf.cli;

import io.mtpf.EncoderOptions;
import io.mtpf.MtpfException;
import io.mtpf.runtime.BackboneOptions;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by the commands that load an encoder. */
final class EncoderArgs {
  @Option(names = "--model", required = true, paramLabel = "DIR", description = "HF model folder (see `mtpf models pull`)")
  Path model;

  @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
  String device;

  @Option(names = "--precision", defaultValue = "fp32", description = "fp32, or bf16 autocast (CUDA; on a CPU only worth it with bf16 matrix units)")
  String precision;

  @Option(names = "--threads", defaultValue = "0", description = "libtorch (or runtime) threads (default: all cores)")
  int threads;

  @Option(names = "--max-length", defaultValue = "0", description = "truncate to this many tokens (default: model limit)")
  int maxLength;

  EncoderOptions options() {
    return EncoderOptions.defaults()
        .withDevice(device)
        .withPrecision(precision)
        .withThreads(threads)
        .withMaxLength(maxLength);
  }

  /** The runtime engine's options from the same flags. */
  BackboneOptions runtimeOptions(boolean int8) {
    return BackboneOptions.defaults().withThreads(threads).withMaxLength(maxLength).withInt8(int8);
  }

  void requireCpuFp32() {
    if (!"cpu".equals(device)) throw new MtpfException("--engine runtime runs on the CPU, not --device " + device);
    if (!"fp32".equals(precision))
      throw new MtpfException("--engine runtime computes in fp32 (or --int8 weights), not --precision " + precision);
  }
}
