package io.mtpf.models;

import java.util.Objects;

/** groupId:artifactId:version of a jar, and where it lies in a Maven repository layout. */
public record MavenCoordinates(String groupId, String artifactId, String version) {
  public MavenCoordinates {
    Objects.requireNonNull(groupId);
    Objects.requireNonNull(artifactId);
    Objects.requireNonNull(version);
  }

  /** Parses "groupId:artifactId:version". */
  public static MavenCoordinates parse(String gav) {
    String[] parts = gav.split(":");
    if (parts.length != 3 || parts[0].isEmpty() || parts[1].isEmpty() || parts[2].isEmpty()) {
      throw new IllegalArgumentException("not groupId:artifactId:version: " + gav);
    }
    return new MavenCoordinates(parts[0], parts[1], parts[2]);
  }

  /** Path of the jar relative to a repository root, with '/' separators (also the URL path on a remote). */
  public String jarPath() {
    return groupId.replace('.', '/') + "/" + artifactId + "/" + version + "/" + artifactId + "-" + version + ".jar";
  }

  @Override
  public String toString() {
    return groupId + ":" + artifactId + ":" + version;
  }
}
