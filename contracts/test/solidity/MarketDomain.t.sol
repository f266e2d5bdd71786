// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SurplusMarket} from "../../contracts/SurplusMarket.sol";
import {ReentrantToken} from "./ReentrantToken.sol";
import {TestToken} from "../../contracts/TestToken.sol";
import {VM} from "./Vm.sol";

/// @notice Issue 14, threats 7d and 4: the EIP-712 domain follows a chain split, and a token hook
/// cannot re-enter `deposit`.
contract MarketDomainTest {
    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    function _expected(address market) private view returns (bytes32) {
        return keccak256(
            abi.encode(_DOMAIN_TYPEHASH, keccak256("Surplus"), keccak256("1"), block.chainid, market)
        );
    }

    function _market(IERC20 token) private returns (SurplusMarket) {
        return new SurplusMarket(token, address(0x7EA5), 1_000, 1e15, 2e15, 2_500, 600, 3_600, 3_600, 1, 30 days, 7 days);
    }

    function test_domainSeparatorFollowsAChainSplit() public {
        SurplusMarket market = _market(new TestToken());
        bytes32 before = market.domainSeparator();
        require(before == _expected(address(market)), "domain on the deployment chain");
        VM.chainId(block.chainid + 1);
        bytes32 afterSplit = market.domainSeparator();
        require(afterSplit != before, "the cached separator survived the split");
        require(afterSplit == _expected(address(market)), "domain of the new chain");
    }

    function test_aTokenHookCannotReenterDeposit() public {
        ReentrantToken token = new ReentrantToken();
        SurplusMarket market = _market(IERC20(address(token)));
        token.mint(address(this), 100);
        token.mint(address(token), 100);
        token.approve(address(market), type(uint256).max);
        token.arm(address(market));
        (bool ok, bytes memory err) = address(market).call(abi.encodeCall(market.deposit, (50)));
        require(!ok, "the re-entered deposit went through");
        require(bytes4(err) == bytes4(keccak256("ReentrantDeposit()")), "not refused as re-entry");
        require(token.balanceOf(address(market)) == 0 && market.balanceOf(address(this)) == 0, "credited");
    }
}
