// The HTML report in a real browser: `edgereason report` on a fake-filled database, then headless
// Chromium (Debian's `chromium`) takes a screenshot and dumps the DOM. The page records script
// errors and console.error calls into <html data-errors>, and sets data-ready at its end; a page
// with a deliberate error checks that this detection works. Skipped when chromium is absent.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../unit/report_fixture.h"
#include "support/test_support.h"

namespace er {
namespace {

std::string find_chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (std::filesystem::exists(p)) return p;
  return "";
}

struct Browser {
  int rc = -1;
  std::string dom;
  std::string log;
};

// Loads `html` headless: the DOM after scripts ran, and (if `png` is not empty) a screenshot.
Browser load(const std::string& chromium, const std::filesystem::path& html, const std::filesystem::path& tmp,
             const std::string& png) {
  const std::string common = "timeout 90 " + test::shell_quote(chromium) +
                             " --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions "
                             "--disable-background-networking --user-data-dir=" +
                             test::shell_quote((tmp / "profile").string()) +
                             " --enable-logging=stderr --v=0 --window-size=1280,6000 ";
  const std::string url = "file://" + std::filesystem::absolute(html).string();
  Browser b;
  const std::string dom_file = (tmp / "dom.html").string(), log_file = (tmp / "log.txt").string();
  std::string cmd = common + "--dump-dom " + test::shell_quote(url) + " >" + test::shell_quote(dom_file) + " 2>" +
                    test::shell_quote(log_file);
  b.rc = std::system(cmd.c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  b.dom = slurp(dom_file);
  b.log = slurp(log_file);
  if (!png.empty()) {
    cmd = common + "--screenshot=" + test::shell_quote(png) + " " + test::shell_quote(url) + " >>" +
          test::shell_quote(log_file) + " 2>&1";
    const int rc = std::system(cmd.c_str());
    if (b.rc == 0) b.rc = rc;
    b.log = slurp(log_file);
  }
  return b;
}

TEST(ReportChromium, RendersWithoutConsoleErrors) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (apt-get install chromium); skipping the browser test";
  test::TempDir dir;
  const std::string db = (dir / "r.db").string();
  ASSERT_TRUE(study::testing::make_report_db(db).is_ok());
  const auto html = dir / "report.html";
  const test::CliResult r = test::run_cli("report --db " + test::shell_quote(db) + " -o " + test::shell_quote(html.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // The detection works: a page with a script error is caught.
  const auto bad = dir / "bad.html";
  {
    std::ifstream in(html);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    text.insert(text.find("</body>"), "<script>undefinedFunctionCall();</script>");
    test::write_text(bad, text);
  }
  const Browser b0 = load(chromium, bad, dir.path(), "");
  ASSERT_EQ(b0.rc, 0) << b0.log;
  EXPECT_NE(b0.dom.find("data-errors=\""), std::string::npos) << "the error probe missed a deliberate error";

  const std::string png = (test::binary_dir() / "study_report_screenshot.png").string();
  std::filesystem::remove(png);
  const Browser b = load(chromium, html, dir.path(), png);
  ASSERT_EQ(b.rc, 0) << b.log;
  EXPECT_NE(b.dom.find("data-ready=\"1\""), std::string::npos) << "the page's scripts did not run to the end";
  EXPECT_EQ(b.dom.find("data-errors="), std::string::npos) << b.dom.substr(0, 600);
  EXPECT_EQ(b.log.find("Uncaught"), std::string::npos) << b.log;
  EXPECT_EQ(b.log.find(":ERROR:CONSOLE"), std::string::npos) << b.log;
  EXPECT_NE(b.dom.find("<svg"), std::string::npos);
  // A PNG of a real page.
  const auto bytes = test::read_bytes(png);
  ASSERT_GT(bytes.size(), 20000u) << "screenshot missing or blank: " << b.log;
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

}  // namespace
}  // namespace er
