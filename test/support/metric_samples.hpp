#pragma once
// Reading the relay's /metrics in tests: sample name (with its labels, as written) to value.

#include <cstdint>
#include <map>
#include <string>

namespace tokenrelay::test {

/// The samples of a Prometheus text exposition; comment and blank lines are skipped.
std::map<std::string, double> parse_metric_samples(const std::string& exposition);

/// GET /metrics from the relay listening on 127.0.0.1:`port`, parsed.
std::map<std::string, double> scrape_metrics(std::uint16_t port);

} // namespace tokenrelay::test
