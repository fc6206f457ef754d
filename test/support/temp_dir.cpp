#include "support/temp_dir.hpp"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace tokenrelay::test {

temp_dir::temp_dir()
{
    std::string pattern =
        (std::filesystem::temp_directory_path() / "tokenrelay-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    // Canonical, so tests that compare paths (symlink targets, absolute-path requests) see
    // the same spelling the relay's realpath checks see.
    path_ = std::filesystem::canonical(pattern);
}

temp_dir::~temp_dir()
{
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::filesystem::path
temp_dir::write_file(const std::filesystem::path& relative, std::string_view content) const
{
    const auto full = path_ / relative;
    std::filesystem::create_directories(full.parent_path());
    std::ofstream out(full, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out)
        throw std::runtime_error("cannot write " + full.string());
    return full;
}

std::string read_file(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace tokenrelay::test
