#include "kagura/config/dotenv.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "support/test_support.hpp"

namespace kagura::config {
namespace {

using kagura::test::TempDir;

// The message of the ConfigError parse_dotenv throws for `text`, or a failure if it throws none.
std::string error_of(std::string_view text, std::string_view source = "test.env") {
  try {
    parse_dotenv(text, source);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for: " << text;
  return {};
}

bool starts_with(const std::string& text, std::string_view prefix) {
  return text.starts_with(prefix);
}

TEST(DotenvTest, ParsesBareValues) {
  const auto values = parse_dotenv("A=1\nB=hello world\nEMPTY=\nPATH_LIKE=/tmp/x=y\n", "t");
  const DotenvValues expected = {
      {"A", "1"}, {"B", "hello world"}, {"EMPTY", ""}, {"PATH_LIKE", "/tmp/x=y"}};
  EXPECT_EQ(values, expected);
}

TEST(DotenvTest, SkipsCommentsAndBlankLines) {
  const auto values = parse_dotenv(
      "# Kagura settings\n"
      "\n"
      "   \n"
      "  # indented comment\n"
      "KAGURA_TELEMETRY_ENABLED=true\n"
      "\t\n"
      "# KAGURA_TELEMETRY_BACKEND=postgres\n",
      "t");
  const DotenvValues expected = {{"KAGURA_TELEMETRY_ENABLED", "true"}};
  EXPECT_EQ(values, expected);
}

TEST(DotenvTest, AcceptsExportPrefixAndSpacesAroundEquals) {
  const auto values = parse_dotenv("export A=1\nexport   B = two \n  C  =  3  \nexporter=x\n", "t");
  const DotenvValues expected = {{"A", "1"}, {"B", "two"}, {"C", "3"}, {"exporter", "x"}};
  EXPECT_EQ(values, expected);
}

TEST(DotenvTest, SingleQuotesAreLiteral) {
  const auto values = parse_dotenv(R"(A='  spaced  '
B='a\nb\"c'
C='has # hash'
D='say "hi"'
E=''
)",
                                   "t");
  EXPECT_EQ(values.at("A"), "  spaced  ");
  EXPECT_EQ(values.at("B"), R"(a\nb\"c)");
  EXPECT_EQ(values.at("C"), "has # hash");
  EXPECT_EQ(values.at("D"), R"(say "hi")");
  EXPECT_EQ(values.at("E"), "");
}

TEST(DotenvTest, DoubleQuotesUnderstandEscapes) {
  const auto values = parse_dotenv(R"(A="line1\nline2"
B="tab\there"
C="back\\slash"
D="quote\"inside"
E="unknown \q escape"
F="it's # not a comment"
G=""
)",
                                   "t");
  EXPECT_EQ(values.at("A"), "line1\nline2");
  EXPECT_EQ(values.at("B"), "tab\there");
  EXPECT_EQ(values.at("C"), "back\\slash");
  EXPECT_EQ(values.at("D"), "quote\"inside");
  EXPECT_EQ(values.at("E"), "unknown \\q escape");
  EXPECT_EQ(values.at("F"), "it's # not a comment");
  EXPECT_EQ(values.at("G"), "");
}

TEST(DotenvTest, CommentAfterAValue) {
  const auto values = parse_dotenv(
      "A=value # the value\n"
      "B=a#b\n"
      "C=\"quoted\" # comment after quotes\n"
      "D='single'   #comment\n"
      "E=\"x\"#tight comment\n"
      "F= # nothing but a comment\n",
      "t");
  EXPECT_EQ(values.at("A"), "value");
  EXPECT_EQ(values.at("B"), "a#b") << "a '#' inside a bare value is kept";
  EXPECT_EQ(values.at("C"), "quoted");
  EXPECT_EQ(values.at("D"), "single");
  EXPECT_EQ(values.at("E"), "x");
  EXPECT_EQ(values.at("F"), "") << "' #' starts a comment even right after '='";
}

TEST(DotenvTest, HandlesCrlfLineEndingsAndAMissingFinalNewline) {
  const auto values = parse_dotenv("A=1\r\nB=\"two\"\r\n# c\r\n\r\nC='3'\r\nD=4", "t");
  const DotenvValues expected = {{"A", "1"}, {"B", "two"}, {"C", "3"}, {"D", "4"}};
  EXPECT_EQ(values, expected);
}

TEST(DotenvTest, LaterAssignmentsWin) {
  const auto values = parse_dotenv("A=1\nA=2\n", "t");
  EXPECT_EQ(values.at("A"), "2");
}

TEST(DotenvTest, EmptyTextGivesNoValues) {
  EXPECT_TRUE(parse_dotenv("", "t").empty());
  EXPECT_TRUE(parse_dotenv("\n\n# only comments\n", "t").empty());
}

TEST(DotenvTest, LineWithoutEqualsIsAnErrorNamingSourceAndLine) {
  const std::string message = error_of("A=1\n\nJUST_A_WORD\n", "/home/u/.kagura/.env");
  EXPECT_TRUE(starts_with(message, "/home/u/.kagura/.env:3:")) << message;
  EXPECT_NE(message.find("JUST_A_WORD"), std::string::npos) << message;
}

TEST(DotenvTest, InvalidKeysAreErrors) {
  for (const char* text : {"1ABC=x", "MY-KEY=x", "=x", "MY KEY=x", "A.B=x"}) {
    const std::string message = error_of(std::string("OK=1\n") + text, "cfg");
    EXPECT_TRUE(starts_with(message, "cfg:2:")) << text << " -> " << message;
  }
}

TEST(DotenvTest, UnclosedQuotesAreErrors) {
  const std::string double_quote = error_of("A=\"never closed\n", "f.env");
  EXPECT_TRUE(starts_with(double_quote, "f.env:1:")) << double_quote;
  EXPECT_NE(double_quote.find("A"), std::string::npos);
  const std::string single_quote = error_of("X=1\nB='open\n", "f.env");
  EXPECT_TRUE(starts_with(single_quote, "f.env:2:")) << single_quote;
  const std::string escaped_close = error_of(R"(C="ends with escaped quote\")", "f.env");
  EXPECT_TRUE(starts_with(escaped_close, "f.env:1:")) << escaped_close;
  // Values cannot span lines, even with CRLF endings.
  const std::string crlf = error_of("A=1\r\nB=\"two\r\nlines\"\r\n", "w.env");
  EXPECT_TRUE(starts_with(crlf, "w.env:2:")) << crlf;
}

TEST(DotenvTest, TextAfterAQuotedValueIsAnError) {
  const std::string message = error_of("A=\"quoted\" trailing\n", "f.env");
  EXPECT_TRUE(starts_with(message, "f.env:1:")) << message;
  EXPECT_NE(message.find("trailing"), std::string::npos) << message;
  const std::string single = error_of("\n\nB='x'y\n", "f.env");
  EXPECT_TRUE(starts_with(single, "f.env:3:")) << single;
}

TEST(DotenvTest, ErrorLineNumbersCountCommentsAndBlankLines) {
  const std::string message = error_of("# one\n\n# three\nA=1\n\nbroken line\n", "src");
  EXPECT_TRUE(starts_with(message, "src:6:")) << message;
}

TEST(DotenvTest, LoadMissingFileGivesNoValues) {
  TempDir dir("kagura_dotenv_test");
  EXPECT_TRUE(load_dotenv_file(dir / "does-not-exist.env").empty());
  EXPECT_TRUE(load_dotenv_file(dir / "no-dir" / ".env").empty());
}

TEST(DotenvTest, LoadFileParsesItAndNamesItInErrors) {
  TempDir dir("kagura_dotenv_test");
  const auto good = dir.write(".env", "export KAGURA_TELEMETRY_OVERFLOW=block\r\nA='1'\n");
  const DotenvValues expected = {{"A", "1"}, {"KAGURA_TELEMETRY_OVERFLOW", "block"}};
  EXPECT_EQ(load_dotenv_file(good), expected);

  const auto bad = dir.write("bad.env", "A=1\nB=\"open\n");
  try {
    load_dotenv_file(bad);
    FAIL() << "a malformed file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(starts_with(e.what(), bad.string() + ":2:")) << e.what();
  }
}

}  // namespace
}  // namespace kagura::config
