#include "support/metric_samples.hpp"

#include "support/http_client.hpp"

#include <sstream>

namespace tokenrelay::test {

std::map<std::string, double> parse_metric_samples(const std::string& exposition)
{
    std::map<std::string, double> out;
    std::istringstream in(exposition);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        const auto space = line.rfind(' ');
        out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
}

std::map<std::string, double> scrape_metrics(std::uint16_t port)
{
    return parse_metric_samples(http_get(port, "/metrics").body);
}

} // namespace tokenrelay::test
