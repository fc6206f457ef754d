#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace tokenrelay::test {

/// A fresh directory under $TMPDIR (mkdtemp), removed with everything in it on destruction.
class temp_dir
{
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }
    std::filesystem::path operator/(const std::filesystem::path& p) const { return path_ / p; }

    /// Writes `content` to `path()/relative`, creating parent directories.
    std::filesystem::path
    write_file(const std::filesystem::path& relative, std::string_view content) const;

private:
    std::filesystem::path path_;
};

/// The whole content of `path`; empty when it cannot be read (a log that was never written).
std::string read_file(const std::filesystem::path& path);

} // namespace tokenrelay::test
