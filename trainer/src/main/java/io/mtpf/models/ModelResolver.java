package io.mtpf.models;

import io.mtpf.MtpfException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** A model named in a run config: an HF folder on disk, or a catalog name pulled (once) into the models folder. */
public final class ModelResolver {
  private final Path modelsDir;
  private final MavenArtifacts maven;

  public ModelResolver(Path modelsDir, boolean offline) {
    this.modelsDir = modelsDir;
    this.maven = new MavenArtifacts(MavenArtifacts.defaultLocalRepo(), URI.create(MavenArtifacts.CENTRAL), offline);
  }

  public MavenArtifacts maven() {
    return maven;
  }

  public Path resolve(String nameOrPath, Consumer<String> log) {
    Path p = Path.of(nameOrPath);
    if (Files.isDirectory(p)) return p;
    var entry = ModelCatalog.find(nameOrPath);
    if (entry.isEmpty())
      throw new MtpfException("model '" + nameOrPath + "' is neither a folder nor a catalog name (see `mtpf models list`)");
    Path dir = modelsDir.resolve(nameOrPath);
    ModelPuller.Result r = new ModelPuller(maven).pull(entry.get(), dir, false);
    if (!r.reused()) log.accept("pulled " + nameOrPath + " into " + dir);
    return dir;
  }
}
