// LIST flags of bench (-p, -n, --paths, -t): plain lists, ranges with steps and factors, and errors naming the flag.
#include <gtest/gtest.h>

#include "report/int_list.h"

namespace er::report {
namespace {

std::vector<int64_t> ok(const std::string& text, int64_t min_value = 0) {
  Result<std::vector<int64_t>> r = parse_int_list(text, "-p", min_value);
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.status().message();
  return r.is_ok() ? *r : std::vector<int64_t>{};
}

std::string err(const std::string& text, const std::string& flag = "-p", int64_t min_value = 0) {
  Result<std::vector<int64_t>> r = parse_int_list(text, flag, min_value);
  EXPECT_FALSE(r.is_ok()) << text;
  if (r.is_ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_EQ(r.status().message().rfind(flag + " '" + text + "'", 0), 0u) << r.status().message();
  return r.status().message();
}

TEST(ReportIntList, SingleValuesAndCommaLists) {
  EXPECT_EQ(ok("512"), (std::vector<int64_t>{512}));
  EXPECT_EQ(ok("0"), (std::vector<int64_t>{0}));
  EXPECT_EQ(ok("1,2,4"), (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(ok("8,8,1"), (std::vector<int64_t>{8, 8, 1}));  // order and duplicates kept
}

TEST(ReportIntList, Ranges) {
  EXPECT_EQ(ok("1-4"), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(ok("128-512+128"), (std::vector<int64_t>{128, 256, 384, 512}));
  EXPECT_EQ(ok("0-10+4"), (std::vector<int64_t>{0, 4, 8}));  // stops before passing last
  EXPECT_EQ(ok("1-16*2"), (std::vector<int64_t>{1, 2, 4, 8, 16}));
  EXPECT_EQ(ok("3-20*3"), (std::vector<int64_t>{3, 9}));
  EXPECT_EQ(ok("5-5"), (std::vector<int64_t>{5}));
  EXPECT_EQ(ok("1,2,8-32*2"), (std::vector<int64_t>{1, 2, 8, 16, 32}));
}

TEST(ReportIntList, HugeBoundsDoNotOverflow) {
  EXPECT_EQ(ok("1099511627776-1099511627776*1099511627776"), (std::vector<int64_t>{int64_t{1} << 40}));
  EXPECT_EQ(ok("1099511627775-1099511627776+1099511627776"), (std::vector<int64_t>{(int64_t{1} << 40) - 1}));
}

TEST(ReportIntList, ErrorsNameTheFlagAndTheText) {
  EXPECT_NE(err("").find("empty"), std::string::npos);
  EXPECT_NE(err("1,,2").find("empty item"), std::string::npos);
  EXPECT_NE(err("1,").find("empty item"), std::string::npos);
  EXPECT_NE(err("abc").find("'abc'"), std::string::npos);
  EXPECT_NE(err("-3").find("'-3'"), std::string::npos);
  EXPECT_NE(err("8-4").find("last 4 is below first 8"), std::string::npos);
  EXPECT_NE(err("1-8+0").find("step 0"), std::string::npos);
  EXPECT_NE(err("1-8*1").find("factor"), std::string::npos);
  EXPECT_NE(err("0-8*2").find("factor"), std::string::npos);
  EXPECT_NE(err("1-8/2").find("unexpected text '/2'"), std::string::npos);
  EXPECT_NE(err("1-").find("last value"), std::string::npos);
  EXPECT_NE(err("1-4+").find("number after '+'"), std::string::npos);
  EXPECT_NE(err("4x").find("unexpected text 'x'"), std::string::npos);
  EXPECT_NE(err("99999999999999999999").find("not a non-negative integer"), std::string::npos);
  EXPECT_NE(err("0-100000").find("more than 4096 values"), std::string::npos);
}

TEST(ReportIntList, MinimumValueIsEnforcedPerValue) {
  EXPECT_EQ(ok("1,2", 1), (std::vector<int64_t>{1, 2}));
  EXPECT_NE(err("0,1", "--paths", 1).find("0 is below the minimum 1"), std::string::npos);
  EXPECT_NE(err("0-2", "-t", 1).find("below the minimum 1"), std::string::npos);
}

}  // namespace
}  // namespace er::report
