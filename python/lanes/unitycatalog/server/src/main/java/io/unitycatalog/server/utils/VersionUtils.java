package io.unitycatalog.server.utils;

// What upstream's build generates (build.sbt, server / Compile / sourceGenerators).
public class VersionUtils {
  public static String VERSION = "0.6.0";
}
