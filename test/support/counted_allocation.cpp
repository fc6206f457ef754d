// The counting allocation functions of counted_allocation.hpp. Every form of operator new
// and delete that can pair with another is replaced, so that what one allocates another
// frees consistently (sanitizers check that allocation and release functions match).
#include <atomic>
#include <cstdlib>
#include <malloc.h>
#include <new>
#include <support/counted_allocation.hpp>

namespace {
std::atomic<std::size_t> allocations{0};
}

void* operator new(std::size_t n)
{
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n))
        return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n)
{
    return ::operator new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept
{
    allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept
{
    return ::operator new(n, t);
}
void operator delete(void* p) noexcept
{
    std::free(p);
}
void operator delete[](void* p) noexcept
{
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept
{
    std::free(p);
}

extern "C" void* aligned_alloc(std::size_t align, std::size_t n) noexcept
{
    allocations.fetch_add(1, std::memory_order_relaxed);
    return memalign(align, n);
}

std::size_t tokenrelay::test::allocations_so_far() noexcept
{
    return allocations.load(std::memory_order_relaxed);
}
