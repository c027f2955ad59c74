//! A flood of sign-ins with a wrong account key, spread over several
//! instances in turn: how many were let through to be checked (401), and
//! how many each instance turned away for the rate limit (429).

/// What a flood of `attempts` over the services at `urls` met.
pub async fn sign_in_flood(urls: &[String], attempts: usize) -> (usize, Vec<usize>) {
    let http = reqwest::Client::new();
    let mut passed = 0;
    let mut limited = vec![0; urls.len()];
    for i in 0..attempts {
        let status = http
            .post(format!("{}/v1/sessions", urls[i % urls.len()]))
            .json(&cairn_protocol::SignInRequest::AccountKey {
                account_key: "cairn_ak_wrong".to_owned(),
                device_id: None,
            })
            .send()
            .await
            .expect("sign-in request sent")
            .status()
            .as_u16();
        match status {
            429 => limited[i % urls.len()] += 1,
            401 => passed += 1,
            other => panic!("a wrong key answered {other}"),
        }
    }
    (passed, limited)
}
