package io.unitycatalog.spark.utils;

public class OptionsUtil {
  private OptionsUtil() {}

  public static final String URI = "uri";
  public static final String TOKEN = "token";
  public static final String WAREHOUSE = "warehouse";

  public static final String RENEW_CREDENTIAL_ENABLED = "renewCredential.enabled";
  public static final boolean DEFAULT_RENEW_CREDENTIAL_ENABLED = true;

  public static final String CRED_SCOPED_FS_ENABLED = "credScopedFs.enabled";
  public static final boolean DEFAULT_CRED_SCOPED_FS_ENABLED = true;
  public static final String SERVER_SIDE_PLANNING_ENABLED = "serverSidePlanning.enabled";
  public static final boolean DEFAULT_SERVER_SIDE_PLANNING_ENABLED = false;
  public static final String DELTA_API_ENABLED = "deltaRestApi.enabled";
  public static final boolean DEFAULT_DELTA_API_ENABLED = true;
}
