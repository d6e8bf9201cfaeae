package io.mtpf;

/**
 * What one training step reports. Losses are NaN for a task without a batch that step, and, like gradNorm, on a
 * step that did not read them ({@code read} false: the values stayed on the device); gradCosine (the two tasks'
 * gradient cosine on shared parameters, the interference signal of the paper's §5) only when measured.
 */
public record StepMetrics(double tcLoss, double nerLoss, double lr, double gradCosine, double gradNorm,
    boolean optimizerStepped, boolean read) {}
