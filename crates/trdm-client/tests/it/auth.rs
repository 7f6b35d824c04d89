//! Client credentials, the token cache, and the one re-authentication after a 401.

use std::time::Duration;

use trdm_client::{ClientBuilder, Error};

use crate::common::{Action, Env, Proxy, builder, first};

#[tokio::test]
async fn bad_credentials_fail_at_connect_with_the_server_message() {
    let env = Env::start().await;
    let err = env
        .builder()
        .with_client_credentials("demo-client", "wrong-secret")
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unauthenticated { message } if message.contains("invalid_client")),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains("wrong-secret"));
    let reader = env
        .builder()
        .with_client_credentials("reader-client", "reader-secret");
    let unknown_scope = reader.with_scope("api:write").connect().await.unwrap_err();
    assert!(
        matches!(&unknown_scope, Error::Unauthenticated { message } if message.contains("invalid_scope")),
        "{unknown_scope}"
    );
    let scoped = env
        .builder()
        .with_scope("api:read")
        .connect()
        .await
        .unwrap();
    assert_eq!(scoped.branches().await.unwrap().len(), 2);
}

#[tokio::test]
async fn one_token_serves_many_concurrent_calls_and_clones() {
    let env = Env::start().await;
    let proxy = Proxy::start(env.url(), |_, _| Action::Forward).await;
    let c = builder(&proxy.url).build().unwrap();
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.branches().await.unwrap().len() })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 2);
    }
    c.domains().await.unwrap();
    assert_eq!(proxy.count("POST /oauth/token"), 1);
    assert_eq!(proxy.count("GET /api/v1/branches"), 8);
}

#[tokio::test]
async fn a_401_for_a_token_believed_valid_reauthenticates_exactly_once() {
    let env = Env::start().await;
    let revoke = first(1);
    let proxy = Proxy::start(env.url(), move |method, path| match (method, path) {
        ("GET", "/api/v1/domains") if revoke() => Action::Respond(
            401,
            r#"{"error":"Unauthorized","message":"token revoked"}"#.into(),
        ),
        _ => Action::Forward,
    })
    .await;
    let c = builder(&proxy.url).build().unwrap();
    let before = c.access_token().await.unwrap();
    assert_eq!(c.domains().await.unwrap().len(), 1);
    assert_ne!(
        c.access_token().await.unwrap(),
        before,
        "the rejected token was replaced"
    );
    assert_eq!(
        (
            proxy.count("POST /oauth/token"),
            proxy.count("GET /api/v1/domains")
        ),
        (2, 2)
    );
}

#[tokio::test]
async fn a_second_401_is_unauthenticated() {
    // Tokens that expire the moment they are minted: the server refuses every one.
    let env = Env::start_with(|c| c.token_ttl = Duration::ZERO).await;
    let proxy = Proxy::start(env.url(), |_, _| Action::Forward).await;
    let c = builder(&proxy.url).build().unwrap();
    let err = c.branches().await.unwrap_err();
    assert!(
        matches!(&err, Error::Unauthenticated { message } if message.contains("expired")),
        "{err}"
    );
    assert_eq!(
        (
            proxy.count("POST /oauth/token"),
            proxy.count("GET /api/v1/branches")
        ),
        (2, 2)
    );
}

#[tokio::test]
async fn short_lived_tokens_are_refreshed_before_they_expire() {
    let env = Env::start_with(|c| c.token_ttl = Duration::from_secs(2)).await;
    let proxy = Proxy::start(env.url(), |_, _| Action::Forward).await;
    let c = builder(&proxy.url).build().unwrap();
    for _ in 0..8 {
        c.domains().await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let tokens = proxy.count("POST /oauth/token");
    assert!(
        (2..8).contains(&tokens),
        "refreshed at half of each 2 s lifetime, not per call: {tokens} tokens"
    );
    // Refreshing at half the lifetime avoids 401s; one could only slip in at a second boundary.
    assert!((8..=9).contains(&proxy.count("GET /api/v1/domains")));
}

/// `from_env` reads `TITAN_URL`, `TITAN_CLIENT_ID` and `TITAN_CLIENT_SECRET`. The environment is process-wide
/// (and changing it is `unsafe` in edition 2024), so the check runs in a child process of this test binary.
#[test]
fn from_env_reads_the_three_variables() {
    const CHILD: &str = "TRDM_CLIENT_TEST_FROM_ENV";
    match std::env::var(CHILD).as_deref() {
        Ok("set") => {
            let client = ClientBuilder::from_env().build().unwrap();
            let shown = format!("{client:?}");
            assert_eq!(client.url(), "http://127.0.0.1:9");
            assert!(
                shown.contains("env-client") && !shown.contains("env-secret"),
                "{shown}"
            );
            return;
        }
        Ok(_) => {
            let err = ClientBuilder::from_env().build().unwrap_err();
            assert!(
                matches!(&err, Error::Config { message } if message.contains("TITAN_URL")),
                "{err}"
            );
            return;
        }
        Err(_) => {}
    }
    let run = |vars: &[(&str, &str)]| {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child.args([
            "--exact",
            "auth::from_env_reads_the_three_variables",
            "--test-threads=1",
        ]);
        for name in ["TITAN_URL", "TITAN_CLIENT_ID", "TITAN_CLIENT_SECRET"] {
            child.env_remove(name);
        }
        child.envs(vars.iter().copied());
        let output = child.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("1 passed"),
            "the child ran the check"
        );
    };
    run(&[
        (CHILD, "set"),
        ("TITAN_URL", "http://127.0.0.1:9/"),
        ("TITAN_CLIENT_ID", "env-client"),
        ("TITAN_CLIENT_SECRET", "env-secret"),
    ]);
    run(&[(CHILD, "unset")]);
}
