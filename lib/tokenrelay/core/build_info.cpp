#include <tokenrelay/core/build_config.hpp>
#include <tokenrelay/core/build_info.hpp>

#include <boost/version.hpp>

#include <openssl/opensslv.h>

namespace tokenrelay {

std::string build_info()
{
    constexpr unsigned boost_major = BOOST_VERSION / 100000;
    constexpr unsigned boost_minor = BOOST_VERSION / 100 % 1000;
    constexpr unsigned boost_patch = BOOST_VERSION % 100;
    std::string out = "tokenrelay ";
    out += build::version;
    out += "\nBoost " + std::to_string(boost_major) + "." + std::to_string(boost_minor) + "." +
           std::to_string(boost_patch);
    out += "\n" OPENSSL_VERSION_TEXT;
    out += TOKENRELAY_DRAINING_READS ? "\nupstream reads: draining (TCP_INQ)\n"
                                     : "\nupstream reads: Asio's own\n";
    return out;
}

} // namespace tokenrelay
